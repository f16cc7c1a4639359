"""Gateway disputes through the real webhook endpoints: opened, updated, closed (won, lost,
warning closed); a lost dispute is money that left."""

from datetime import UTC, datetime

import pytest

from bookings.models import BookingEvent
from payments.models import Payment
from refunds import services
from refunds.errors import RefundExceedsCaptured
from refunds.models import Dispute
from tests.payments.conftest import (
    post_webhook,
    razorpay_delivery,
    stripe_delivery,
    stripe_event,
)

DUE = 1893456000  # 2030-01-01T00:00:00Z


def stripe_dispute(event_type: str, payment: Payment, *, status: str, amount=None) -> None:
    obj = {
        "id": "dp_Life1",
        "object": "dispute",
        "amount": payment.captured_amount_minor if amount is None else amount,
        "currency": payment.currency.lower(),
        "payment_intent": payment.payment_id,
        "reason": "product_not_received",
        "status": status,
        "evidence_details": {"due_by": DUE, "has_evidence": False},
    }
    body, headers = stripe_delivery(stripe_event(event_type, obj))
    assert post_webhook_client.post(body, headers).status_code == 200


class _Poster:
    client = None
    gateway = "stripe"

    def post(self, body, headers):
        return post_webhook(self.client, self.gateway, body, headers)


post_webhook_client = _Poster()


def razorpay_dispute(event: str, payment: Payment, *, status: str) -> None:
    dispute = {
        "id": "disp_Life1",
        "entity": "dispute",
        "payment_id": payment.payment_id,
        "amount": payment.captured_amount_minor,
        "currency": payment.currency,
        "amount_deducted": 0,
        "reason_code": "chargeback",
        "reason_description": "Customer says the service never happened",
        "respond_by": DUE,
        "status": status,
        "phase": "chargeback",
    }
    payload = {
        "entity": "event",
        "event": event,
        "contains": ["payment", "dispute"],
        "payload": {
            "payment": {"entity": {"id": payment.payment_id, "order_id": payment.order_id}},
            "dispute": {"entity": dispute},
        },
    }
    body, headers = razorpay_delivery(payload)
    assert post_webhook(post_webhook_client.client, "razorpay", body, headers).status_code == 200


@pytest.fixture(autouse=True)
def _client(client, fake_gateways):
    post_webhook_client.client = client


@pytest.mark.django_db
def test_stripe_dispute_opened_updated_and_lost_counts_as_money_that_left(captured_payment):
    payment = captured_payment(gateway="stripe")

    stripe_dispute("charge.dispute.created", payment, status="needs_response")
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.gateway_status, dispute.outcome) == (
        Dispute.Status.OPEN,
        "needs_response",
        "",
    )
    assert dispute.evidence_due_by == datetime(2030, 1, 1, tzinfo=UTC)
    assert dispute.amount_minor == payment.captured_amount_minor

    stripe_dispute("charge.dispute.updated", payment, status="under_review")
    stripe_dispute("charge.dispute.closed", payment, status="lost")
    stripe_dispute("charge.dispute.closed", payment, status="lost")  # redelivered

    dispute.refresh_from_db()
    assert (dispute.status, dispute.outcome, dispute.lost_amount_minor) == (
        Dispute.Status.CLOSED,
        Dispute.Outcome.LOST,
        payment.captured_amount_minor,
    )
    payment.refresh_from_db()
    assert payment.flagged and "lost" in payment.flag_reason
    events = BookingEvent.objects.filter(booking=payment.booking)
    assert events.filter(kind="dispute_lost").count() == 1
    assert events.filter(kind="payment_flagged").count() == 1
    # The money left with the chargeback: nothing is left to refund.
    with pytest.raises(RefundExceedsCaptured):
        services.refund_booking_manually(
            booking_id=payment.booking_id, amount_minor=1, reason="goodwill", actor=None
        )


@pytest.mark.django_db
def test_razorpay_dispute_action_required_then_won_closes_it_without_a_flag(captured_payment):
    payment = captured_payment(gateway="razorpay")

    razorpay_dispute("payment.dispute.created", payment, status="open")
    razorpay_dispute("payment.dispute.action_required", payment, status="open")
    razorpay_dispute("payment.dispute.under_review", payment, status="under_review")
    razorpay_dispute("payment.dispute.won", payment, status="won")

    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.outcome, dispute.lost_amount_minor, dispute.gateway_status) == (
        Dispute.Status.CLOSED,
        Dispute.Outcome.WON,
        0,
        "won",
    )
    payment.refresh_from_db()
    assert payment.flagged is False


@pytest.mark.django_db
def test_a_late_update_never_reopens_a_decided_dispute(captured_payment):
    payment = captured_payment(gateway="stripe")
    stripe_dispute("charge.dispute.closed", payment, status="warning_closed")
    stripe_dispute("charge.dispute.updated", payment, status="warning_needs_response")

    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.outcome, dispute.gateway_status) == (
        Dispute.Status.CLOSED,
        Dispute.Outcome.CLOSED,
        "warning_closed",
    )


@pytest.mark.django_db
def test_admin_lists_disputes_needing_evidence_by_due_date(captured_payment, admin_client_support):
    later, sooner = captured_payment(gateway="stripe"), captured_payment(gateway="stripe")
    for payment, due, dispute_id in ((later, DUE + 86400, "dp_L"), (sooner, DUE, "dp_S")):
        obj = {
            "id": dispute_id,
            "object": "dispute",
            "amount": 100,
            "currency": "inr",
            "payment_intent": payment.payment_id,
            "status": "needs_response",
            "evidence_details": {"due_by": due},
        }
        body, headers = stripe_delivery(stripe_event("charge.dispute.created", obj))
        post_webhook(post_webhook_client.client, "stripe", body, headers)

    response = admin_client_support.get("/admin/refunds/dispute/?evidence=yes")

    listed = [dispute.booking_id for dispute in response.context["cl"].result_list]
    assert listed == [sooner.booking_id, later.booking_id]
