"""Signed webhooks that are odd, short of facts, or replayed (issue 13 #6, #7, #8)."""

from __future__ import annotations

import json
import secrets

import pytest

from bookings.models import Booking, BookingEvent, BookingStatus
from payments.models import Payment, WebhookEvent
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import (
    SANDBOX_SECRET,
    hmac_hex,
    post_webhook,
    razorpay_delivery,
    razorpay_payment_event,
    stripe_delivery,
    stripe_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def razorpay_payment():
    return PaymentFactory(booking=BookingFactory(), gateway="razorpay", order_id="order_RZPX01")


@pytest.fixture
def stripe_payment():
    return PaymentFactory(booking=BookingFactory(), gateway="stripe", order_id="cs_test_X01")


def flags(payment) -> int:
    return BookingEvent.objects.filter(
        booking_id=payment.booking_id, kind="payment_flagged"
    ).count()


def assert_nothing_confirmed(payment) -> None:
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT


# --- 6: shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"event": "payment.captured", "payload": {"payment": "notadict"}},
        {"event": "payment.captured", "payload": [1]},
        {"event": "payment.captured", "payload": {"payment": {"entity": [1, 2]}}},
        {"event": "refund.processed", "payload": {"refund": 7}},
        {"event": "payment.failed", "payload": "x"},
    ],
)
def test_a_signed_razorpay_body_of_the_wrong_shape_is_recorded_ignored_with_200(client, body):
    raw, headers = razorpay_delivery(body)

    response = post_webhook(client, "razorpay", raw, headers)

    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "ignored"
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookEvent.Outcome.IGNORED
    assert event.detail.startswith("malformed event: payload")


@pytest.mark.parametrize("data", ["str", [1], {"object": "str"}, {"object": [1]}, None])
def test_a_signed_stripe_event_with_a_wrong_data_shape_is_recorded_ignored(client, data):
    payload = stripe_event("checkout.session.completed", {})
    payload["data"] = data
    raw, headers = stripe_delivery(payload)

    response = post_webhook(client, "stripe", raw, headers)

    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get()
    assert (event.outcome, event.detail) == (
        WebhookEvent.Outcome.IGNORED,
        "malformed event: data.object is not an object",
    )


def test_a_signed_sandbox_body_of_the_wrong_shape_is_ignored(client):
    raw = json.dumps({"event_id": "e1", "event": "payment.captured", "payload": [1]}).encode()

    response = post_webhook(
        client, "sandbox", raw, {"HTTP_X_SANDBOX_SIGNATURE": hmac_hex(raw, SANDBOX_SECRET)}
    )

    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.IGNORED


# --- 7: captures without a verified amount ---------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_total": "29900"},
        {"amount_total": None},
        {"amount_total": 29900.0},
        {"payment_intent": None},
        {"currency": None},
    ],
    ids=["amount-str", "amount-missing", "amount-float", "no-intent", "no-currency"],
)
def test_a_stripe_capture_without_a_verified_amount_is_flagged_not_confirmed(
    client, stripe_payment, changes
):
    obj = {
        "id": stripe_payment.order_id,
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": stripe_payment.amount_minor,
        "currency": "inr",
        "payment_intent": "pi_3X",
        "metadata": {"booking_id": str(stripe_payment.booking_id)},
        **changes,
    }
    raw, headers = stripe_delivery(stripe_event("checkout.session.completed", obj))

    response = post_webhook(client, "stripe", raw, headers)

    assert response.status_code == 200
    assert response.json()["outcome"] == "flagged"
    assert_nothing_confirmed(stripe_payment)
    assert stripe_payment.flagged is True
    assert flags(stripe_payment) == 1


def test_a_razorpay_capture_with_a_string_amount_is_flagged_once(client, razorpay_payment):
    payload = razorpay_payment_event(
        "payment.captured", order_id=razorpay_payment.order_id, amount=0, payment_id="pay_S1"
    )
    payload["payload"]["payment"]["entity"]["amount"] = str(razorpay_payment.amount_minor)

    first = post_webhook(client, "razorpay", *razorpay_delivery(payload, event_id="evt_a"))
    again = post_webhook(client, "razorpay", *razorpay_delivery(payload, event_id="evt_b"))

    assert first.json()["outcome"] == "flagged"
    assert again.json()["duplicate"] is True
    assert_nothing_confirmed(razorpay_payment)
    assert flags(razorpay_payment) == 1


# --- 8: the same signed body under new event-id headers ---------------------------------------


def test_a_signed_body_replayed_with_new_event_id_headers_is_a_duplicate(client, razorpay_payment):
    payload = razorpay_payment_event(
        "payment.failed", order_id=razorpay_payment.order_id, amount=razorpay_payment.amount_minor
    )
    body, headers = razorpay_delivery(payload, event_id="evt_first")
    first = post_webhook(client, "razorpay", body, headers)

    replies = []
    for _ in range(5):
        headers["HTTP_X_RAZORPAY_EVENT_ID"] = "evt_" + secrets.token_hex(6)
        replies.append(post_webhook(client, "razorpay", body, headers).json())

    assert first.json()["duplicate"] is False
    assert all(reply["duplicate"] is True for reply in replies)
    assert WebhookEvent.objects.count() == 1


def test_a_sandbox_body_replayed_with_new_event_id_headers_is_a_duplicate(client):
    raw = json.dumps({"event": "payment.failed", "payload": {}}).encode()
    signature = hmac_hex(raw, SANDBOX_SECRET)

    for n in range(3):
        post_webhook(
            client,
            "sandbox",
            raw,
            {"HTTP_X_SANDBOX_SIGNATURE": signature, "HTTP_X_SANDBOX_EVENT_ID": f"evt_{n}"},
        )

    assert WebhookEvent.objects.count() == 1


def test_razorpays_own_event_id_still_deduplicates_another_body(client, razorpay_payment):
    for amount in (100, 200):
        payload = razorpay_payment_event(
            "payment.failed", order_id=razorpay_payment.order_id, amount=amount
        )
        post_webhook(client, "razorpay", *razorpay_delivery(payload, event_id="evt_same"))

    # Razorpay's own event id still deduplicates: the second body is a duplicate of it.
    assert WebhookEvent.objects.count() == 1
