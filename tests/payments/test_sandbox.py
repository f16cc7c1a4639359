"""The sandbox gateway's pages and webhook: pressing a button delivers a signed webhook
through the same verification and processing as any gateway's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.test import Client

from bookings.models import Booking, BookingStatus
from partners.models import Slot
from payments.gateways.sandbox import build_payment_webhook
from payments.models import Payment, WebhookEvent
from tests.concurrency import run_concurrently
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import SANDBOX_SECRET, hmac_hex, post_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_payment():
    return PaymentFactory(
        booking=BookingFactory(), gateway="sandbox", order_id="sbx_order_0123abcd"
    )


def test_checkout_form_without_csrf_token_is_refused(sandbox_payment):
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(f"/sandbox/checkout/{sandbox_payment.order_id}/pay")

    assert response.status_code == 403
    assert Booking.objects.get(pk=sandbox_payment.booking_id).status == "PENDING_PAYMENT"


def test_fail_button_fails_the_booking_and_releases_the_seats(client, sandbox_payment):
    response = client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/fail")

    assert response.status_code == 302
    assert response["Location"] == f"/sandbox/return/{sandbox_payment.order_id}"
    booking = Booking.objects.get(pk=sandbox_payment.booking_id)
    assert booking.status == BookingStatus.PAYMENT_FAILED
    assert Slot.objects.get(pk=booking.slot_id).booked == 0


def test_pay_after_fail_is_refused_and_changes_nothing(client, sandbox_payment):
    client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/fail")
    booking = Booking.objects.get(pk=sandbox_payment.booking_id)
    events_before = list(booking.events.values_list("pk", flat=True))

    response = client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/pay")

    assert response.status_code == 409
    assert b'data-outcome="failed"' in response.content
    assert b"<form" not in response.content
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PAYMENT_FAILED
    assert list(booking.events.values_list("pk", flat=True)) == events_before
    assert Slot.objects.get(pk=booking.slot_id).booked == 0
    sandbox_payment.refresh_from_db()
    assert sandbox_payment.status == Payment.Status.FAILED
    assert WebhookEvent.objects.count() == 1  # the failure only


@pytest.mark.parametrize("second", ["pay", "fail", "pay-lost-webhook"])
def test_a_paid_checkout_refuses_every_button(client, sandbox_payment, second):
    client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/pay")

    response = client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/{second}")

    assert response.status_code == 409
    booking = Booking.objects.get(pk=sandbox_payment.booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.events.filter(to_status="CONFIRMED").count() == 1
    assert WebhookEvent.objects.count() == 1


def test_a_paid_checkout_shows_its_outcome_and_no_buttons(client, sandbox_payment):
    open_page = client.get(f"/sandbox/checkout/{sandbox_payment.order_id}")
    assert open_page.content.count(b"<button") == 3
    assert b"checkout-outcome" not in open_page.content

    client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/pay")
    page = client.get(f"/sandbox/checkout/{sandbox_payment.order_id}")

    assert page.status_code == 200
    assert b'data-outcome="captured"' in page.content
    assert b"<button" not in page.content
    assert b"<form" not in page.content
    assert b'id="booking-status">CONFIRMED<' in page.content


def test_a_checkout_paid_without_its_webhook_is_finished_too(client, sandbox_payment):
    client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/pay-lost-webhook")

    page = client.get(f"/sandbox/checkout/{sandbox_payment.order_id}")
    refused = client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/fail")

    assert b'data-outcome="captured_webhook_lost"' in page.content
    assert b"<button" not in page.content
    assert refused.status_code == 409
    assert WebhookEvent.objects.count() == 0
    assert Booking.objects.get(pk=sandbox_payment.booking_id).status == "PENDING_PAYMENT"


def test_a_payment_captured_elsewhere_finishes_the_checkout(client, sandbox_payment):
    # E.g. confirmed by reconciliation after the sandbox's memory was lost (a restart).
    Payment.objects.filter(pk=sandbox_payment.pk).update(status=Payment.Status.CAPTURED)

    page = client.get(f"/sandbox/checkout/{sandbox_payment.order_id}")
    refused = client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/pay")

    assert b'data-outcome="captured"' in page.content
    assert refused.status_code == 409
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_pay_and_fail_pressed_at_once_finish_the_checkout_once():
    payment = PaymentFactory(booking=BookingFactory(), gateway="sandbox", order_id="sbx_order_race")
    buttons = ["pay", "fail"] * 3

    codes = run_concurrently(
        len(buttons),
        lambda i: Client().post(f"/sandbox/checkout/{payment.order_id}/{buttons[i]}").status_code,
    )

    assert sorted(codes) == [302] + [409] * 5
    assert WebhookEvent.objects.count() == 1
    event = WebhookEvent.objects.get()
    booking = Booking.objects.get(pk=payment.booking_id)
    expected = "CONFIRMED" if event.event_type == "payment.captured" else "PAYMENT_FAILED"
    assert booking.status == expected
    assert booking.events.filter(to_status=expected).count() == 1


def test_unknown_order_is_404(client):
    assert client.get("/sandbox/checkout/sbx_order_nope").status_code == 404
    assert client.post("/sandbox/checkout/sbx_order_nope/pay").status_code == 404


def test_checkout_and_webhook_are_404_when_the_sandbox_is_disabled(
    client, settings, sandbox_payment
):
    settings.PAYMENT_SANDBOX_ENABLED = False
    body, headers = build_payment_webhook(payment=sandbox_payment, outcome="captured")
    signed = {"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]}

    assert post_webhook(client, "sandbox", body, signed).status_code == 404
    assert WebhookEvent.objects.count() == 0

    assert client.get(f"/sandbox/checkout/{sandbox_payment.order_id}").status_code == 404
    assert client.post(f"/sandbox/checkout/{sandbox_payment.order_id}/pay").status_code == 404
    assert Booking.objects.get(pk=sandbox_payment.booking_id).status == "PENDING_PAYMENT"


def test_a_razorpay_order_has_no_sandbox_checkout(client):
    payment = PaymentFactory(gateway="razorpay", order_id="order_real")

    assert client.post(f"/sandbox/checkout/{payment.order_id}/pay").status_code == 404
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


@pytest.mark.parametrize("tamper", ["body", "secret", "missing", "non_ascii"])
def test_bad_sandbox_signature_is_400_and_stores_nothing(client, sandbox_payment, tamper):
    body, headers = build_payment_webhook(payment=sandbox_payment, outcome="captured")
    signed = {"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]}
    if tamper == "body":
        body = body.replace(b'"status":"captured"', b'"status":"captured" ')
    elif tamper == "secret":
        signed["HTTP_X_SANDBOX_SIGNATURE"] = hmac_hex(body, "not-the-sandbox-secret")
    elif tamper == "missing":
        signed = {}
    else:  # hmac.compare_digest raises TypeError on non-ASCII str
        signed["HTTP_X_SANDBOX_SIGNATURE"] = "é" * 64

    response = post_webhook(client, "sandbox", body, signed)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert WebhookEvent.objects.count() == 0
    assert Booking.objects.get(pk=sandbox_payment.booking_id).status == "PENDING_PAYMENT"
    sandbox_payment.refresh_from_db()
    assert sandbox_payment.status == Payment.Status.CREATED


def test_sandbox_webhook_from_outside_is_verified_with_the_secret(client, sandbox_payment):
    body, headers = build_payment_webhook(payment=sandbox_payment, outcome="captured")
    assert headers["X-Sandbox-Signature"] == hmac_hex(body, SANDBOX_SECRET)
    tampered = body.replace(b'"status":"captured"', b'"status":"captured" ')

    rejected = post_webhook(
        client, "sandbox", tampered, {"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]}
    )
    accepted = post_webhook(
        client, "sandbox", body, {"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]}
    )

    assert rejected.status_code == 400
    assert accepted.status_code == 200
    assert WebhookEvent.objects.get().event_id == json.loads(body)["event_id"]
    assert Booking.objects.get(pk=sandbox_payment.booking_id).status == BookingStatus.CONFIRMED


REMEMBER = (
    "import django, sys; django.setup(); from payments.gateways import sandbox; "
    "sandbox.remember_payment({'id': 'pay_x', 'order_id': sys.argv[1], 'status': 'captured'})"
)
RECALL = (
    "import django, json, sys; django.setup(); from django.core.cache import caches; "
    "from payments.gateways import sandbox; "
    "print(json.dumps(sandbox.remembered_payments(sys.argv[1]))); "
    "caches['sandbox'].delete(sandbox._order_key(sys.argv[1]))"
)


def test_the_embedded_default_remembers_sandbox_payments_across_processes(tmp_path):
    """*Pay, lose the webhook* on the server's page is found by reconciliation in beat or
    ``manage.py reconcile_payments``: other processes, so not the local-memory cache."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", SQLITE_PATH=str(tmp_path / "db"))
    order_id = f"sbx_order_{uuid.uuid4().hex[:20]}"

    def run(code: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code, order_id],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run(REMEMBER)

    assert json.loads(run(RECALL)) == [{"id": "pay_x", "order_id": order_id, "status": "captured"}]
