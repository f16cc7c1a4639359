"""The business series of ``/metrics`` follow what happens to bookings, webhooks, refunds
and the outbox: read from the database at scrape time."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.tasks import expire_holds
from notifications.models import OutboxMessage
from payments.gateways.sandbox import build_payment_webhook
from payments.models import Payment
from refunds.models import Refund
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory
from tests.monitoring.conftest import value

pytestmark = pytest.mark.django_db


@pytest.fixture
def bookable(settings):
    settings.PAYMENT_SANDBOX_ENABLED = True
    settings.PAYMENT_DEFAULT_GATEWAY = "sandbox"
    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    start = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    slot = SlotFactory(
        partner=PartnerFactory(services=[variant.service]),
        capacity=5,
        start=start,
        end=start + timedelta(hours=1),
    )
    return slot, variant


def book(client, slot, variant) -> int:
    response = client.post(
        "/api/v1/bookings", {"slot_id": slot.pk, "variant_id": variant.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def deliver_capture(client, booking_id: int):
    body, headers = build_payment_webhook(
        payment=Payment.objects.get(booking_id=booking_id), outcome="captured"
    )
    return client.post(
        "/webhooks/sandbox",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


def test_bookings_webhooks_and_refunds_move_their_series(
    scrape, bookable, customer_client, django_capture_on_commit_callbacks
):
    slot, variant = bookable
    before = scrape()

    booking_id = book(customer_client, slot, variant)
    booked = scrape()
    pending = "PENDING_PAYMENT"
    assert (
        value(booked, "slotwise_bookings", status=pending)
        == value(before, "slotwise_bookings", status=pending) + 1
    )

    captured = deliver_capture(customer_client, booking_id)
    assert captured.status_code == 200, captured.content
    paid = scrape()
    processed = {"gateway": "sandbox", "source": "webhook", "outcome": "processed"}
    assert value(paid, "slotwise_webhook_events", **processed) == (
        value(before, "slotwise_webhook_events", **processed) + 1
    )
    assert value(paid, "slotwise_bookings", status=pending) == value(
        before, "slotwise_bookings", status=pending
    )
    assert value(paid, "slotwise_bookings", status="CONFIRMED") == (
        value(before, "slotwise_bookings", status="CONFIRMED") + 1
    )

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = customer_client.post(f"/api/v1/bookings/{booking_id}/cancel", {}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    refund = Refund.objects.get(booking_id=booking_id)
    after = scrape()
    assert value(after, "slotwise_refunds", status=refund.status) == (
        value(before, "slotwise_refunds", status=refund.status) + 1
    )
    assert value(after, "slotwise_bookings", status="CANCELLED") == (
        value(before, "slotwise_bookings", status="CANCELLED") + 1
    )
    # Every status is a series, also those no booking or refund is in.
    for status in BookingStatus.values:
        assert ("slotwise_bookings", frozenset({("status", status)})) in after
    for status in Refund.Status.values:
        assert ("slotwise_refunds", frozenset({("status", status)})) in after


def test_an_expired_hold_counts_once(scrape, bookable, customer_client, settings):
    slot, variant = bookable
    before = scrape()
    booking_id = book(customer_client, slot, variant)

    with time_machine.travel(timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES + 1)):
        assert expire_holds() == 1
        assert expire_holds() == 0
        after = scrape()

    assert Booking.objects.get(pk=booking_id).status == BookingStatus.EXPIRED
    assert value(after, "slotwise_booking_holds_expired_total") == (
        value(before, "slotwise_booking_holds_expired_total") + 1
    )
    assert value(after, "slotwise_bookings", status="EXPIRED") == (
        value(before, "slotwise_bookings", status="EXPIRED") + 1
    )


def test_outbox_backlog_and_the_age_of_its_oldest_message(scrape):
    assert value(scrape(), "slotwise_outbox_oldest_pending_age_seconds") == 0
    written = timezone.now()
    with time_machine.travel(written - timedelta(hours=1), tick=False):
        # Older, but delivered: neither backlog nor its age.
        OutboxMessage.objects.create(
            channel="email",
            kind="booking_confirmed",
            recipient="x",
            available_at=timezone.now(),
            status="sent",
        )
    with time_machine.travel(written, tick=False):
        for channel, status in [("email", "pending"), ("email", "pending"), ("sms", "pending")]:
            OutboxMessage.objects.create(
                channel=channel,
                kind="booking_confirmed",
                recipient="x",
                available_at=written,
                status=status,
            )

    with time_machine.travel(written + timedelta(minutes=10), tick=False):
        samples = scrape()

    assert value(samples, "slotwise_outbox_pending", channel="email") == 2
    assert value(samples, "slotwise_outbox_pending", channel="sms") == 1
    assert ("slotwise_outbox_pending", frozenset({("channel", "webhook")})) in samples
    assert value(samples, "slotwise_outbox_oldest_pending_age_seconds") == 600


def test_celery_queue_lengths_come_from_the_broker(scrape):
    # The suite's broker is the real Redis of TEST_REDIS_URL; nothing is queued in it.
    samples = scrape()

    assert value(samples, "slotwise_broker_up") == 1
    assert ("slotwise_celery_queue_length", frozenset({("queue", "celery")})) in samples


def test_an_unreachable_broker_is_reported_not_an_error(scrape, settings, unused_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_port}/0"

    samples = scrape()

    assert samples[("slotwise_broker_up", frozenset())] == 0
    assert not [key for key in samples if key[0] == "slotwise_celery_queue_length"]
    # The database figures are there all the same.
    assert ("slotwise_bookings", frozenset({("status", "CONFIRMED")})) in samples


def test_the_embedded_in_process_broker_has_no_broker_series(scrape, settings):
    settings.CELERY_BROKER_URL = "memory://"

    samples = scrape()

    assert not [key for key in samples if key[0].startswith(("slotwise_broker", "slotwise_celery"))]
    assert ("slotwise_booking_holds_expired_total", frozenset()) in samples
