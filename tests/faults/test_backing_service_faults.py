"""Backing services failing under a request: the database going away, Redis down
(issue 13, faults). Real PostgreSQL and Redis; the faults are real too: the backend is
terminated from another connection, the cache points at a closed port."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.test import override_settings

from bookings.models import Booking, BookingStatus
from conftest import authed_client
from partners.models import Slot
from payments.gateways.sandbox import build_payment_webhook
from payments.models import Payment
from tests.factories.accounts import CustomerFactory
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory


def terminate_backend_on(statement_prefix: str):
    """A database execute wrapper that, at the first statement starting with
    ``statement_prefix``, terminates this connection's backend from another connection
    (and waits until it is gone), then lets the statement run into the dead connection."""
    fired = []

    def wrapper(execute, sql, params, many, context):
        if not fired and sql.lstrip().upper().startswith(statement_prefix):
            fired.append(sql)
            pid = context["connection"].connection.info.backend_pid
            params_dict = connection.get_connection_params()
            dsn = {k: v for k, v in params_dict.items() if k in ("host", "port", "user", "dbname")}
            with psycopg.connect(**dsn, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        return execute(sql, params, many, context)

    wrapper.fired = fired
    return wrapper


@pytest.mark.django_db(transaction=True)
def test_the_database_going_away_mid_booking_is_a_503_and_the_retry_books_once():
    variant = ServiceVariantFactory()
    slot = SlotFactory(partner=PartnerFactory(services=[variant.service]), capacity=2)
    client = authed_client(CustomerFactory())
    body = {"slot_id": slot.pk, "variant_id": variant.pk}
    killer = terminate_backend_on('INSERT INTO "BOOKINGS_BOOKING"')

    with connection.execute_wrapper(killer):
        failed = client.post(
            "/api/v1/bookings", body, format="json", HTTP_IDEMPOTENCY_KEY="fault-1"
        )

    assert killer.fired, "the backend was never terminated"
    assert failed.status_code == 503, failed.content
    assert failed.json()["code"] == "service_unavailable"
    assert int(failed["Retry-After"]) > 0
    assert not Booking.objects.exists()  # the booking's transaction died with the backend
    assert Slot.objects.get(pk=slot.pk).booked == 0

    retried = client.post("/api/v1/bookings", body, format="json", HTTP_IDEMPOTENCY_KEY="fault-1")
    replayed = client.post("/api/v1/bookings", body, format="json", HTTP_IDEMPOTENCY_KEY="fault-1")

    assert retried.status_code == 201, retried.content
    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == retried.json()["id"]
    assert Booking.objects.count() == 1
    assert Slot.objects.get(pk=slot.pk).booked == 1


REDIS_DOWN = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
        },
    }
}
# The sandbox gateway's memory lives in the same Redis (config/settings.py).
REDIS_DOWN["sandbox"] = REDIS_DOWN["default"]


@pytest.mark.django_db
def test_with_redis_down_booking_and_webhooks_still_work(settings):
    settings.PAYMENT_SANDBOX_ENABLED = True
    variant = ServiceVariantFactory()
    slot = SlotFactory(partner=PartnerFactory(services=[variant.service]), capacity=2)
    client = authed_client(CustomerFactory())

    with override_settings(CACHES=REDIS_DOWN):
        from django.core.cache import cache

        with pytest.raises(Exception):  # noqa: B017 - the cache really is unreachable
            cache.client.get_client().ping()
        created = client.post(
            "/api/v1/bookings", {"slot_id": slot.pk, "variant_id": variant.pk}, format="json"
        )
        assert created.status_code == 201, created.content
        body, headers = build_payment_webhook(
            payment=Payment.objects.get(booking_id=created.json()["id"]), outcome="captured"
        )
        captured = client.post(
            "/webhooks/sandbox",
            data=body,
            content_type="application/json",
            HTTP_X_SANDBOX_SIGNATURE=headers["X-Sandbox-Signature"],
            HTTP_X_SANDBOX_EVENT_ID=headers["X-Sandbox-Event-Id"],
        )
        health = client.get("/health")

    assert captured.status_code == 200, captured.content
    assert Booking.objects.get(pk=created.json()["id"]).status == BookingStatus.CONFIRMED
    assert health.status_code == 200
    assert health.json()["checks"] == {"database": "ok", "cache": "error", "broker": "ok"}
