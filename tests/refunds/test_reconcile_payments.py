"""``manage.py reconcile_payments``: the gateways asked at the HTTP boundary (``responses``)
through the official SDKs; what they say is applied through the webhook pipeline."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingStatus
from payments.models import EventSource, Payment, WebhookEvent
from refunds.models import Refund
from tests.concurrency import run_concurrently
from tests.factories.bookings import BookingFactory
from tests.factories.partners import SlotFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import (
    RAZORPAY_WEBHOOK_SECRET,
    post_webhook,
    razorpay_delivery,
    razorpay_payment_event,
    stripe_delivery,
    stripe_event,
)
from tests.refunds.conftest import RAZORPAY_BASE, STRIPE_BASE


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile_payments", *args, stdout=out)
    return out.getvalue()


def open_payment(gateway: str, *, order_id: str, **booking_fields) -> Payment:
    """A payment not captured on our side whose hold runs out in a minute (or is over)."""
    booking_fields.setdefault("hold_expires_at", timezone.now() + timedelta(minutes=1))
    booking = BookingFactory(slot=SlotFactory(capacity=1), **booking_fields)
    return PaymentFactory(booking=booking, gateway=gateway, order_id=order_id)


def razorpay_order_payments(payment: Payment, *items: dict) -> None:
    responses.get(
        f"{RAZORPAY_BASE}/v1/orders/{payment.order_id}/payments",
        json={"entity": "collection", "count": len(items), "items": list(items)},
    )


def razorpay_payment(payment: Payment, *, status="captured", pay_id="pay_Lost1", amount=None):
    return {
        "id": pay_id,
        "entity": "payment",
        "amount": payment.amount_minor if amount is None else amount,
        "currency": payment.currency,
        "status": status,
        "order_id": payment.order_id,
        "captured": status == "captured",
        "notes": {"booking_id": str(payment.booking_id)},
    }


def stripe_session_paid(payment: Payment, *, intent_id="pi_Lost1") -> None:
    responses.get(
        f"{STRIPE_BASE}/v1/checkout/sessions/{payment.order_id}",
        json={
            "id": payment.order_id,
            "object": "checkout.session",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": payment.amount_minor,
            "currency": payment.currency.lower(),
            "metadata": {"booking_id": str(payment.booking_id)},
            "payment_intent": {
                "id": intent_id,
                "object": "payment_intent",
                "status": "succeeded",
                "amount_received": payment.amount_minor,
                "currency": payment.currency.lower(),
            },
        },
    )


def confirmations(booking_id: int) -> int:
    return BookingEvent.objects.filter(
        booking_id=booking_id, to_status=BookingStatus.CONFIRMED
    ).count()


@pytest.mark.django_db
@responses.activate
def test_capture_whose_webhook_never_came_confirms_once_even_when_the_webhook_then_arrives(
    fake_gateways, client
):
    payment = open_payment("razorpay", order_id="order_Lost1")
    razorpay_order_payments(payment, razorpay_payment(payment, status="failed", pay_id="pay_F"))
    responses.replace(
        responses.GET,
        f"{RAZORPAY_BASE}/v1/orders/{payment.order_id}/payments",
        json={
            "entity": "collection",
            "count": 2,
            "items": [
                razorpay_payment(payment, status="failed", pay_id="pay_F"),
                razorpay_payment(payment),
            ],
        },
    )

    output = reconcile()

    assert "applied" in output
    booking = Booking.objects.get(pk=payment.booking_id)
    payment.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert (payment.status, payment.payment_id, payment.captured_amount_minor) == (
        Payment.Status.CAPTURED,
        "pay_Lost1",
        payment.amount_minor,
    )
    entry = WebhookEvent.objects.get()
    assert (entry.source, entry.event_type, entry.outcome) == (
        EventSource.RECONCILIATION,
        "reconcile.order",
        WebhookEvent.Outcome.PROCESSED,
    )
    timeline = BookingEvent.objects.get(booking=booking, to_status=BookingStatus.CONFIRMED)
    assert timeline.actor_label == "razorpay reconciliation"

    # The webhook arrives after all, and a second run finds the same capture: no change.
    body, headers = razorpay_delivery(
        razorpay_payment_event(
            "payment.captured",
            order_id=payment.order_id,
            amount=payment.amount_minor,
            payment_id="pay_Lost1",
        )
    )
    assert post_webhook(client, "razorpay", body, headers).status_code == 200
    # Captured now: neither a run nor one for this booking looks it up again.
    assert reconcile().startswith("0 looked up")
    assert reconcile("--booking", str(booking.pk)).startswith("0 looked up")
    assert confirmations(booking.pk) == 1
    assert Refund.objects.count() == 0
    assert WebhookEvent.objects.filter(source=EventSource.WEBHOOK).count() == 1


@pytest.mark.django_db
@responses.activate
def test_capture_found_after_the_seats_went_to_someone_else_is_refunded_in_full_once(
    fake_gateways, client, django_capture_on_commit_callbacks
):
    payment = open_payment(
        "stripe",
        order_id="cs_test_Lost2",
        status=BookingStatus.EXPIRED,
        hold_expires_at=timezone.now() - timedelta(minutes=30),
    )
    BookingFactory(slot=payment.booking.slot, status=BookingStatus.CONFIRMED)  # the last seat
    stripe_session_paid(payment)
    responses.post(  # the refund task, after commit
        f"{STRIPE_BASE}/v1/refunds",
        json={"id": "re_Late1", "object": "refund", "status": "pending", "amount": 49900},
    )

    with django_capture_on_commit_callbacks(execute=True):
        reconcile()
        reconcile("--booking", str(payment.booking_id))
    webhook = stripe_event(
        "checkout.session.completed",
        {
            "id": payment.order_id,
            "object": "checkout.session",
            "payment_status": "paid",
            "amount_total": payment.amount_minor,
            "currency": "inr",
            "payment_intent": "pi_Lost1",
            "metadata": {"booking_id": str(payment.booking_id)},
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        body, headers = stripe_delivery(webhook)
        assert post_webhook(client, "stripe", body, headers).status_code == 200

    refund = Refund.objects.get()
    assert (refund.source, refund.amount_minor, refund.status, refund.gateway_refund_id) == (
        Refund.Source.LATE_CAPTURE,
        payment.amount_minor,
        Refund.Status.PROCESSING,
        "re_Late1",
    )
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.EXPIRED
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1
    payment.refresh_from_db()
    assert (payment.status, payment.payment_id) == (Payment.Status.CAPTURED, "pi_Lost1")


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_runs_apply_a_found_capture_once(settings):
    settings.RAZORPAY_API_BASE = RAZORPAY_BASE
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = "rzp_test_fake", "secret"
    payment = open_payment("razorpay", order_id="order_Race1")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            f"{RAZORPAY_BASE}/v1/orders/{payment.order_id}/payments",
            json={"entity": "collection", "count": 1, "items": [razorpay_payment(payment)]},
        )
        run_concurrently(4, lambda _: call_command("reconcile_payments", stdout=StringIO()))

    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED
    assert confirmations(payment.booking_id) == 1
    assert WebhookEvent.objects.filter(source=EventSource.RECONCILIATION).count() == 1


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize("gateway", ["razorpay", "stripe"])
def test_refund_pending_at_the_gateway_is_settled_as_its_webhook_would(
    gateway, fake_gateways, captured_payment
):
    payment = captured_payment(gateway=gateway)
    refund = Refund.objects.create(
        booking=payment.booking,
        payment=payment,
        amount_minor=payment.captured_amount_minor,
        currency=payment.currency,
        source=Refund.Source.MANUAL,
        status=Refund.Status.PROCESSING,
        gateway_refund_id="rfnd_Pending1" if gateway == "razorpay" else "re_Pending1",
    )
    if gateway == "razorpay":
        url = f"{RAZORPAY_BASE}/v1/refunds/rfnd_Pending1"
        answer = {"id": "rfnd_Pending1", "entity": "refund", "status": "processed"}
        answer.update(payment_id=payment.payment_id, amount=refund.amount_minor, currency="INR")
    else:
        url = f"{STRIPE_BASE}/v1/refunds/re_Pending1"
        answer = {"id": "re_Pending1", "object": "refund", "status": "succeeded"}
        answer.update(payment_intent=payment.payment_id, amount=refund.amount_minor)
    pending = {**answer, "status": "pending"}
    responses.get(url, json=pending)

    reconcile()  # still pending at the gateway: nothing to apply
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    assert WebhookEvent.objects.count() == 0

    responses.replace(responses.GET, url, json=answer)
    reconcile()
    reconcile()

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert (payment.status, payment.flagged) == (Payment.Status.REFUNDED, False)
    assert WebhookEvent.objects.get().source == EventSource.RECONCILIATION
    settled = BookingEvent.objects.filter(booking=payment.booking, kind="refund_succeeded")
    assert settled.count() == 1


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "json": {"error": {"code": "SERVER_ERROR"}}},
        {"status": 200, "body": "<html>gateway maintenance</html>"},
        {"status": 200, "json": {"entity": "collection", "items": "nope"}},
    ],
    ids=["5xx", "not-json", "garbage"],
)
def test_gateway_error_or_garbage_changes_nothing_and_the_next_run_applies(
    answer, fake_gateways, captured_payment
):
    payment = open_payment("razorpay", order_id="order_Err1")
    refund_payment = captured_payment(gateway="razorpay")
    in_flight = Refund.objects.create(
        booking=refund_payment.booking,
        payment=refund_payment,
        amount_minor=100,
        currency="INR",
        source=Refund.Source.MANUAL,
        status=Refund.Status.PROCESSING,
        gateway_refund_id="rfnd_Err1",
    )
    responses.get(f"{RAZORPAY_BASE}/v1/orders/{payment.order_id}/payments", **answer)
    responses.get(f"{RAZORPAY_BASE}/v1/refunds/rfnd_Err1", **answer)
    before = (Booking.objects.get(pk=payment.booking_id).status, BookingEvent.objects.count())

    output = reconcile()

    assert "error 2" in output
    payment.refresh_from_db()
    in_flight.refresh_from_db()
    assert (payment.status, payment.flagged, payment.payment_id) == (
        Payment.Status.CREATED,
        False,
        "",
    )
    assert in_flight.status == Refund.Status.PROCESSING
    assert (Booking.objects.get(pk=payment.booking_id).status, BookingEvent.objects.count()) == (
        before
    )
    assert WebhookEvent.objects.count() == 0

    razorpay_order_payments(payment, razorpay_payment(payment))
    responses.replace(
        responses.GET,
        f"{RAZORPAY_BASE}/v1/orders/{payment.order_id}/payments",
        json={"entity": "collection", "count": 1, "items": [razorpay_payment(payment)]},
    )
    reconcile()
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED


@pytest.mark.django_db
@responses.activate
def test_dry_run_asks_and_changes_nothing(fake_gateways):
    payment = open_payment("razorpay", order_id="order_Dry1")
    razorpay_order_payments(payment, razorpay_payment(payment))

    output = reconcile("--dry-run")

    assert "would_apply" in output and output.startswith(f"booking {payment.booking_id}")
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
@responses.activate
def test_authorized_but_never_captured_payment_is_flagged_for_support_once(fake_gateways):
    payment = open_payment("razorpay", order_id="order_Auth1")
    razorpay_order_payments(payment, razorpay_payment(payment, status="authorized"))

    reconcile()
    payment.refresh_from_db()
    payment.flagged = False  # support looked at it
    payment.save(update_fields=["flagged"])
    reconcile()

    payment.refresh_from_db()
    assert payment.flagged is False
    assert "authorized but not captured" in payment.flag_reason
    flags = BookingEvent.objects.filter(booking_id=payment.booking_id, kind="payment_flagged")
    assert flags.count() == 1


@pytest.mark.django_db
def test_hold_not_near_expiry_and_old_payments_are_not_looked_up(fake_gateways):
    open_payment("razorpay", order_id="order_Fresh", hold_expires_at=timezone.now() + timedelta(1))
    with responses.RequestsMock():  # any request would fail the test
        assert reconcile().startswith("0 looked up")
        assert reconcile("--since", (timezone.now() + timedelta(hours=1)).isoformat()).startswith(
            "0 looked up"
        )


@pytest.mark.django_db
def test_sandbox_payment_whose_webhook_was_lost_is_confirmed_by_reconciliation(client, settings):
    settings.PAYMENT_SANDBOX_ENABLED = True
    payment = open_payment("sandbox", order_id="sbx_order_lost")
    response = client.post(f"/sandbox/checkout/{payment.order_id}/pay-lost-webhook")
    assert response.status_code == 302
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT

    reconcile()

    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED
    entry = WebhookEvent.objects.get()
    assert entry.source == EventSource.RECONCILIATION
    assert json.loads(json.dumps(entry.payload))["signals"][0]["kind"] == "captured"


@pytest.mark.django_db(transaction=True)
def test_a_run_racing_the_late_webhook_of_the_same_capture_applies_it_once(settings):
    settings.RAZORPAY_API_BASE = RAZORPAY_BASE
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = "rzp_test_fake", "secret"
    settings.RAZORPAY_WEBHOOK_SECRET = RAZORPAY_WEBHOOK_SECRET
    payment = open_payment("razorpay", order_id="order_Race2")
    body, headers = razorpay_delivery(
        razorpay_payment_event(
            "payment.captured",
            order_id=payment.order_id,
            amount=payment.amount_minor,
            payment_id="pay_Lost1",
        )
    )

    def act(index: int):
        if index == 0:
            return post_webhook(Client(), "razorpay", body, headers).status_code
        return call_command("reconcile_payments", stdout=StringIO())

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://testserver")
        mock.get(
            f"{RAZORPAY_BASE}/v1/orders/{payment.order_id}/payments",
            json={"entity": "collection", "count": 1, "items": [razorpay_payment(payment)]},
        )
        results = run_concurrently(2, act)

    assert results[0] == 200
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED
    assert confirmations(payment.booking_id) == 1
    assert Refund.objects.count() == 0
