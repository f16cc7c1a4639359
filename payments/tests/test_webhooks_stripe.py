"""POST /webhooks/stripe: the SDK's signature check (with timestamp tolerance) and the
events we act on."""

from __future__ import annotations

import time

import pytest

from bookings.factories import BookingFactory
from bookings.models import Booking, BookingEvent, BookingStatus
from partners.models import Slot
from payments.factories import PaymentFactory
from payments.models import Payment, WebhookEvent
from payments.tests.conftest import post_webhook, stripe_delivery, stripe_event
from refunds.models import Dispute, Refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment():
    return PaymentFactory(booking=BookingFactory(), gateway="stripe", order_id="cs_test_a1B2c3")


def session_completed(payment, *, payment_status="paid", amount=None, currency="inr"):
    return stripe_event(
        "checkout.session.completed",
        {
            "id": payment.order_id,
            "object": "checkout.session",
            "payment_status": payment_status,
            "amount_total": payment.amount_minor if amount is None else amount,
            "currency": currency,
            "payment_intent": "pi_3Abc",
            "metadata": {"booking_id": str(payment.booking_id)},
        },
    )


def intent(event_type, payment, **fields):
    obj = {
        "id": "pi_3Abc",
        "object": "payment_intent",
        "amount_received": payment.amount_minor,
        "currency": payment.currency.lower(),
        "metadata": {"booking_id": str(payment.booking_id)},
        **fields,
    }
    return stripe_event(event_type, obj)


def deliver(client, payload, **kw):
    body, headers = stripe_delivery(payload, **kw)
    return post_webhook(client, "stripe", body, headers)


def test_paid_checkout_session_confirms_the_booking(client, payment):
    payload = session_completed(payment)
    response = deliver(client, payload)

    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED
    payment.refresh_from_db()
    assert (payment.status, payment.payment_id) == (Payment.Status.CAPTURED, "pi_3Abc")
    event = WebhookEvent.objects.get()
    assert (event.event_id, event.event_type) == (payload["id"], "checkout.session.completed")


def test_unpaid_checkout_session_is_recorded_but_changes_nothing(client, payment):
    response = deliver(client, session_completed(payment, payment_status="unpaid"))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.IGNORED
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "non_ascii", "non_ascii_v1"])
def test_bad_or_stale_signature_is_400_and_stores_nothing(client, payment, tamper):
    payload = session_completed(payment)
    if tamper == "non_ascii":
        body, _ = stripe_delivery(payload)
        headers = {"HTTP_STRIPE_SIGNATURE": "é" * 64}
    elif tamper == "non_ascii_v1":  # well-formed and fresh, but compare_digest would raise
        body, _ = stripe_delivery(payload)
        headers = {"HTTP_STRIPE_SIGNATURE": f"t={int(time.time())},v1={'é' * 64}"}
    elif tamper == "secret":
        body, headers = stripe_delivery(payload, secret="whsec_wrong")
    elif tamper == "stale":
        body, headers = stripe_delivery(payload, timestamp=int(time.time()) - 301)
    else:
        body, headers = stripe_delivery(payload)
        body = body.replace(b'"paid"', b'"paid" ')

    response = post_webhook(client, "stripe", body, headers)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert WebhookEvent.objects.count() == 0
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT


def test_session_completed_and_intent_succeeded_confirm_once(client, payment):
    deliver(client, intent("payment_intent.succeeded", payment))
    deliver(client, session_completed(payment))

    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED
    assert WebhookEvent.objects.count() == 2
    assert (
        BookingEvent.objects.filter(booking_id=payment.booking_id, to_status="CONFIRMED").count()
        == 1
    )


def test_intent_succeeded_with_another_amount_is_flagged(client, payment):
    response = deliver(client, intent("payment_intent.succeeded", payment, amount_received=1))

    assert response.json()["outcome"] == "flagged"
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT
    payment.refresh_from_db()
    assert payment.flagged


def test_intent_failed_fails_the_booking_and_releases_its_seats(client, payment):
    deliver(
        client,
        intent(
            "payment_intent.payment_failed",
            payment,
            last_payment_error={"message": "Your card was declined."},
        ),
    )

    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.PAYMENT_FAILED
    assert Slot.objects.get(pk=booking.slot_id).booked == 0
    step = BookingEvent.objects.get(booking=booking, to_status="PAYMENT_FAILED")
    assert step.reason == "Your card was declined."


def test_charge_refunded_reconciles_the_listed_refunds(client, payment):
    from refunds.services import create_refund

    deliver(client, session_completed(payment))
    payment.refresh_from_db()
    refund = create_refund(
        booking=payment.booking,
        payment=payment,
        amount_minor=payment.amount_minor,
        source="manual",
        reason="support",
    )
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": "pi_3Abc",
        "amount_refunded": payment.amount_minor,
        "refunds": {
            "object": "list",
            "data": [{"id": "re_1", "amount": payment.amount_minor, "status": "succeeded"}],
        },
    }

    response = deliver(client, stripe_event("charge.refunded", charge))

    assert response.json()["outcome"] == "processed"
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.SUCCEEDED, "re_1")


def test_charge_dispute_created_records_a_dispute(client, payment):
    deliver(client, session_completed(payment))
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "charge": "ch_1",
        "payment_intent": "pi_3Abc",
        "amount": payment.amount_minor,
        "reason": "fraudulent",
    }

    deliver(client, stripe_event("charge.dispute.created", dispute))

    recorded = Dispute.objects.get()
    assert recorded.gateway_dispute_id == "dp_1"
    assert recorded.booking_id == payment.booking_id
