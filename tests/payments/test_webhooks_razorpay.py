"""POST /webhooks/razorpay: signature first, claim-first ledger, capture/failure effects."""

from __future__ import annotations

import json

import pytest
import responses

from bookings.models import Booking, BookingEvent, BookingStatus
from partners.models import Slot
from payments.models import Payment, WebhookEvent
from refunds.models import Refund
from tests.factories.bookings import BookingFactory
from tests.factories.partners import SlotFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import (
    post_webhook,
    razorpay_delivery,
    razorpay_payment_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment():
    booking = BookingFactory(slot=SlotFactory(capacity=1))
    return PaymentFactory(booking=booking, gateway="razorpay", order_id="order_RZP0001")


def captured(payment, **kw):
    return razorpay_payment_event(
        "payment.captured",
        order_id=payment.order_id,
        amount=kw.pop("amount", payment.amount_minor),
        booking_id=payment.booking_id,
        **kw,
    )


def failed(payment):
    return razorpay_payment_event(
        "payment.failed", order_id=payment.order_id, amount=payment.amount_minor
    )


def deliver(client, payload, **kw):
    body, headers = razorpay_delivery(payload, **kw)
    return post_webhook(client, "razorpay", body, headers)


def confirmations(booking_id: int) -> int:
    return BookingEvent.objects.filter(booking_id=booking_id, to_status="CONFIRMED").count()


def test_signed_capture_confirms_the_booking_and_records_the_event(client, payment):
    response = deliver(client, captured(payment, payment_id="pay_A1"), event_id="evt_1")

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "outcome": "processed"}
    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.holds_seats is True
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.payment_id == "pay_A1"
    assert payment.captured_amount_minor == payment.amount_minor
    event = WebhookEvent.objects.get()
    assert (event.gateway, event.event_id, event.event_type) == (
        "razorpay",
        "evt_1",
        "payment.captured",
    )
    assert event.outcome == WebhookEvent.Outcome.PROCESSED
    assert event.booking_id == booking.pk
    assert event.processed_at is not None
    assert json.loads(event.raw_body)["event"] == "payment.captured"
    step = BookingEvent.objects.get(booking=booking, to_status="CONFIRMED")
    assert step.from_status == "PENDING_PAYMENT"
    assert step.actor_label == "razorpay"


@pytest.mark.parametrize("tamper", ["body", "secret", "missing", "non_ascii"])
def test_bad_signature_is_400_and_stores_nothing(client, payment, tamper):
    payload = captured(payment)
    if tamper == "secret":
        body, headers = razorpay_delivery(payload, secret="not-the-secret")
    else:
        body, headers = razorpay_delivery(payload)
    if tamper == "body":
        body = body.replace(b'"amount": ', b'"amount": 1')
    if tamper == "missing":
        del headers["HTTP_X_RAZORPAY_SIGNATURE"]
    if tamper == "non_ascii":  # hmac.compare_digest raises TypeError on non-ASCII str
        headers["HTTP_X_RAZORPAY_SIGNATURE"] = "é" * 64

    response = post_webhook(client, "razorpay", body, headers)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert WebhookEvent.objects.count() == 0
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


def test_same_event_twice_has_one_effect(client, payment):
    first = deliver(client, captured(payment), event_id="evt_twice")
    second = deliver(client, captured(payment), event_id="evt_twice")

    assert first.json()["duplicate"] is False
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1
    assert confirmations(payment.booking_id) == 1


def test_event_id_falls_back_to_the_body(client, payment):
    payload = {**captured(payment), "event_id": "evt_in_body"}
    body, headers = razorpay_delivery(payload)
    del headers["HTTP_X_RAZORPAY_EVENT_ID"]

    post_webhook(client, "razorpay", body, headers)
    again = post_webhook(client, "razorpay", body, headers)

    assert WebhookEvent.objects.get().event_id == "evt_in_body"
    assert again.json()["duplicate"] is True


def test_capture_then_order_paid_under_other_ids_confirms_once(client, payment):
    deliver(client, captured(payment, payment_id="pay_X"))
    order_paid = razorpay_payment_event(
        "order.paid", order_id=payment.order_id, amount=payment.amount_minor, payment_id="pay_X"
    )
    response = deliver(client, order_paid)

    assert response.json()["duplicate"] is False
    assert WebhookEvent.objects.count() == 2
    assert confirmations(payment.booking_id) == 1
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED


def test_captured_then_failed_ends_confirmed(client, payment):
    deliver(client, captured(payment))
    deliver(client, failed(payment))

    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.holds_seats is True
    assert Slot.objects.get(pk=booking.slot_id).booked == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED


def test_failure_releases_the_seats_once(client, payment):
    deliver(client, failed(payment))
    deliver(client, failed(payment))

    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.PAYMENT_FAILED
    assert booking.holds_seats is False
    assert Slot.objects.get(pk=booking.slot_id).booked == 0
    assert BookingEvent.objects.filter(booking=booking, to_status="PAYMENT_FAILED").count() == 1


def test_failed_then_captured_ends_confirmed_with_the_seats_taken_again(client, payment):
    deliver(client, failed(payment))
    deliver(client, captured(payment))

    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.holds_seats is True
    assert Slot.objects.get(pk=booking.slot_id).booked == 1


@pytest.mark.parametrize(
    ("amount_delta", "currency"), [(-100, "INR"), (0, "USD")], ids=["amount", "currency"]
)
def test_mismatched_payment_is_flagged_and_not_confirmed(client, payment, amount_delta, currency):
    payload = captured(payment, amount=payment.amount_minor + amount_delta, currency=currency)
    response = deliver(client, payload)

    assert response.status_code == 200
    assert response.json()["outcome"] == "flagged"
    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert confirmations(booking.pk) == 0
    payment.refresh_from_db()
    assert payment.flagged is True
    assert "but the booking costs" in payment.flag_reason
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.FLAGGED
    assert BookingEvent.objects.filter(booking=booking, kind="payment_flagged").count() == 1


def test_unknown_event_type_is_recorded_and_ignored(client, payment):
    payload = {"entity": "event", "event": "payment.authorized", "payload": {}}
    response = deliver(client, payload, event_id="evt_unknown")

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookEvent.Outcome.IGNORED
    assert event.event_type == "payment.authorized"
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT


def test_capture_of_an_unknown_order_is_ignored(client, payment):
    payload = razorpay_payment_event("payment.captured", order_id="order_OTHER", amount=100)
    response = deliver(client, payload)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.IGNORED
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT


def test_capture_of_another_order_is_ignored_even_with_our_booking_id_in_its_notes(client, payment):
    """Booking ids repeat across databases sharing one gateway account (every webhook
    endpoint of the account gets every event): an order we never made confirms nothing."""
    payload = razorpay_payment_event(
        "payment.captured",
        order_id="order_OTHER",
        amount=payment.amount_minor,
        booking_id=payment.booking_id,
    )
    response = deliver(client, payload)

    assert response.json()["outcome"] == WebhookEvent.Outcome.IGNORED
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT
    payment.refresh_from_db()
    assert (payment.status, payment.payment_id) == (Payment.Status.CREATED, "")


def test_late_capture_after_expiry_confirms_when_the_seats_are_free(client):
    booking = BookingFactory(slot=SlotFactory(capacity=1), status=BookingStatus.EXPIRED)
    payment = PaymentFactory(booking=booking, gateway="razorpay")
    assert Slot.objects.get(pk=booking.slot_id).booked == 0

    deliver(client, captured(payment))

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.holds_seats is True
    assert Slot.objects.get(pk=booking.slot_id).booked == 1
    assert Refund.objects.count() == 0


@responses.activate
def test_late_capture_after_expiry_is_refunded_in_full_when_the_seats_are_taken(
    client, django_capture_on_commit_callbacks
):
    slot = SlotFactory(capacity=1)
    booking = BookingFactory(slot=slot, status=BookingStatus.EXPIRED)
    BookingFactory(slot=slot)  # someone else took the only seat
    payment = PaymentFactory(booking=booking, gateway="razorpay")
    refund_call = responses.post(
        "https://razorpay.fake/v1/payments/pay_LATE/refund",
        json={"id": "rfnd_LATE", "entity": "refund", "status": "processed"},
    )

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, captured(payment, payment_id="pay_LATE"))

    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert booking.holds_seats is False
    assert Slot.objects.get(pk=slot.pk).booked == 1
    refund = Refund.objects.get()
    assert (refund.source, refund.amount_minor) == ("late_capture", payment.amount_minor)
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id == "rfnd_LATE"
    assert refund_call.call_count == 1
    sent = refund_call.calls[0].request
    assert json.loads(sent.body)["amount"] == payment.amount_minor
    assert sent.headers["X-Refund-Idempotency"] == refund.idempotency_key


def test_capture_for_a_cancelled_booking_queues_a_full_refund_once(client):
    booking = BookingFactory(status=BookingStatus.CANCELLED)
    payment = PaymentFactory(booking=booking, gateway="razorpay")

    deliver(client, captured(payment))
    deliver(client, captured(payment))  # the same capture under another event id

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    refund = Refund.objects.get()
    assert (refund.source, refund.amount_minor, refund.status) == (
        "late_capture",
        payment.amount_minor,
        Refund.Status.PENDING,
    )


def test_refund_processed_event_reconciles_our_refund(client, payment):
    from refunds.services import create_refund

    deliver(client, captured(payment, payment_id="pay_R"))
    payment.refresh_from_db()
    refund = create_refund(
        booking=payment.booking,
        payment=payment,
        amount_minor=1000,
        source="manual",
        reason="goodwill",
    )
    payload = {
        "entity": "event",
        "event": "refund.processed",
        "payload": {
            "refund": {
                "entity": {
                    "id": "rfnd_R1",
                    "payment_id": "pay_R",
                    "amount": 1000,
                    "currency": "INR",
                    "status": "processed",
                }
            },
        },
    }

    response = deliver(client, payload)

    assert response.json()["outcome"] == "processed"
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id == "rfnd_R1"


def test_refund_event_that_matches_no_refund_flags_the_payment(client, payment):
    deliver(client, captured(payment, payment_id="pay_S"))
    payload = {
        "entity": "event",
        "event": "refund.processed",
        "payload": {"refund": {"entity": {"id": "rfnd_X", "payment_id": "pay_S", "amount": 5}}},
    }

    response = deliver(client, payload)

    assert response.json()["outcome"] == "flagged"
    payment.refresh_from_db()
    assert payment.flagged is True
    assert "rfnd_X" in payment.flag_reason


def test_dispute_event_records_a_gateway_dispute(client, payment):
    from refunds.models import Dispute

    deliver(client, captured(payment, payment_id="pay_D"))
    payload = {
        "entity": "event",
        "event": "payment.dispute.created",
        "payload": {
            "payment": {"entity": {"id": "pay_D", "order_id": payment.order_id}},
            "dispute": {
                "entity": {
                    "id": "disp_1",
                    "payment_id": "pay_D",
                    "amount": payment.amount_minor,
                    "reason_code": "chargeback",
                }
            },
        },
    }

    deliver(client, payload)
    deliver(client, payload)  # redelivered under another id: still one dispute

    dispute = Dispute.objects.get()
    assert dispute.gateway_dispute_id == "disp_1"
    assert dispute.booking_id == payment.booking_id


@pytest.mark.parametrize("status", [Payment.Status.REFUNDED, Payment.Status.PARTIALLY_REFUNDED])
def test_mismatched_capture_after_refunds_keeps_the_captured_amount_and_status(
    client, payment, support_user, status
):
    """A later capture event with another amount is flagged; it must not reset a refunded
    payment to CAPTURED nor replace what was captured (the ceiling of every refund)."""
    from refunds.errors import RefundExceedsCaptured
    from refunds.services import refund_booking_manually

    amount = payment.amount_minor
    refunded = amount if status == Payment.Status.REFUNDED else amount // 2
    Booking.objects.filter(pk=payment.booking_id).update(
        status=BookingStatus.CANCELLED, holds_seats=False
    )
    Payment.objects.filter(pk=payment.pk).update(
        status=status, captured_amount_minor=amount, payment_id="pay_FIRST"
    )
    Refund.objects.create(
        booking_id=payment.booking_id,
        payment=payment,
        amount_minor=refunded,
        currency=payment.currency,
        source=Refund.Source.CANCELLATION,
        status=Refund.Status.SUCCEEDED,
    )

    response = deliver(client, captured(payment, amount=amount * 3, payment_id="pay_SECOND"))

    assert response.json()["outcome"] == "flagged"
    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount_minor, payment.payment_id) == (
        status,
        amount,
        "pay_FIRST",
    )
    assert payment.flagged is True
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CANCELLED
    with pytest.raises(RefundExceedsCaptured):
        refund_booking_manually(
            booking_id=payment.booking_id,
            amount_minor=amount - refunded + 1,
            reason="too much",
            actor=support_user,
        )
    assert Refund.objects.filter(booking_id=payment.booking_id).count() == 1
