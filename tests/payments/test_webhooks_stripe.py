"""POST /webhooks/stripe: the SDK's signature check (with timestamp tolerance) and the
events we act on."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import pytest
import responses

from bookings.models import Booking, BookingEvent, BookingStatus
from partners.models import Slot
from payments.models import Payment, WebhookEvent
from refunds.models import Dispute, Refund
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import post_webhook, stripe_delivery, stripe_event

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


def charge(payment, *, amount_refunded: int, refunds: list[dict] | None = None) -> dict:
    """A Charge as ``charge.refunded`` carries it. Since API version 2022-11-15 there is
    no ``refunds`` list unless it is expanded (``refunds`` given here), which webhook
    payloads never are: the running total ``amount_refunded`` is what Stripe sends."""
    obj = {
        "id": "ch_3Abc",
        "object": "charge",
        "amount": payment.amount_minor,
        "amount_captured": payment.amount_minor,
        "amount_refunded": amount_refunded,
        "balance_transaction": "txn_3Abc",
        "captured": True,
        "currency": payment.currency.lower(),
        "livemode": False,
        "metadata": {"booking_id": str(payment.booking_id)},
        "paid": True,
        "payment_intent": "pi_3Abc",
        "payment_method": "pm_1Card",
        "refunded": amount_refunded >= payment.amount_minor,
        "status": "succeeded",
    }
    if refunds is not None:
        obj["refunds"] = {
            "object": "list",
            "data": refunds,
            "has_more": False,
            "total_count": len(refunds),
            "url": "/v1/charges/ch_3Abc/refunds",
        }
    return stripe_event("charge.refunded", obj)


def stripe_refund(refund, *, gateway_id: str, status: str) -> dict:
    """A Refund object as the Stripe API returns it for one of our refunds."""
    return {
        "id": gateway_id,
        "object": "refund",
        "amount": refund.amount_minor,
        "charge": "ch_3Abc",
        "currency": refund.currency.lower(),
        "metadata": {
            "booking_id": str(refund.booking_id),
            "idempotency_key": refund.idempotency_key,
        },
        "payment_intent": "pi_3Abc",
        "status": status,
    }


@pytest.fixture
def paid(client, payment):
    deliver(client, session_completed(payment))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    return payment


def accepted_refund(payment, amount: int, gateway_id: str, on_commit) -> Refund:
    """A refund our task sent to (faked) Stripe, which accepted it as pending: it waits
    for the webhook, with Stripe's refund id."""
    from refunds.services import create_refund

    def accept_as_pending(request):
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        sent = parse_qs(body)
        refund = {
            "id": gateway_id,
            "object": "refund",
            "amount": int(sent["amount"][0]),
            "charge": "ch_3Abc",
            "currency": payment.currency.lower(),
            "metadata": {
                "booking_id": sent["metadata[booking_id]"][0],
                "idempotency_key": request.headers["Idempotency-Key"],
            },
            "payment_intent": sent["payment_intent"][0],
            "status": "pending",
        }
        return 200, {}, json.dumps(refund)

    with responses.RequestsMock() as stripe_api:
        stripe_api.add_callback(
            responses.POST, "https://stripe.fake/v1/refunds", callback=accept_as_pending
        )
        with on_commit(execute=True):
            refund = create_refund(
                booking=payment.booking,
                payment=payment,
                amount_minor=amount,
                source="manual",
                reason="support",
            )
    refund.refresh_from_db()
    return refund


def no_outbound_http() -> responses.RequestsMock:
    """Inside, any HTTP request fails and is recorded in ``calls`` (reset on exit)."""
    return responses.RequestsMock(assert_all_requests_are_fired=False)


def test_charge_refunded_with_its_refunds_listed_reconciles_each_refund(
    client, paid, django_capture_on_commit_callbacks
):
    refund = accepted_refund(paid, paid.amount_minor, "re_1", django_capture_on_commit_callbacks)
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PROCESSING, "re_1")
    listed = [stripe_refund(refund, gateway_id="re_1", status="succeeded")]

    with no_outbound_http() as http:
        response = deliver(client, charge(paid, amount_refunded=paid.amount_minor, refunds=listed))
        assert len(http.calls) == 0

    assert response.json()["outcome"] == "processed"
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.SUCCEEDED, "re_1")
    paid.refresh_from_db()
    assert paid.status == Payment.Status.REFUNDED


def test_charge_refunded_without_a_refunds_list_settles_the_refunds_its_total_covers(
    client, paid, django_capture_on_commit_callbacks
):
    first = accepted_refund(paid, 20000, "re_A", django_capture_on_commit_callbacks)
    second = accepted_refund(paid, 10000, "re_B", django_capture_on_commit_callbacks)
    only_first = charge(paid, amount_refunded=20000)
    assert "refunds" not in only_first["data"]["object"]

    with no_outbound_http() as http:
        response = deliver(client, only_first)
        assert len(http.calls) == 0

    assert response.json()["outcome"] == "processed"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Refund.Status.SUCCEEDED, Refund.Status.PROCESSING)
    paid.refresh_from_db()
    assert paid.status == Payment.Status.PARTIALLY_REFUNDED

    both = charge(paid, amount_refunded=30000)
    with no_outbound_http() as http:
        deliver(client, both)
        deliver(client, both)  # a redelivery
        deliver(client, only_first)  # late and out of order
        assert len(http.calls) == 0

    second.refresh_from_db()
    assert (second.status, second.gateway_refund_id) == (Refund.Status.SUCCEEDED, "re_B")
    succeeded = BookingEvent.objects.filter(booking_id=paid.booking_id, kind="refund_succeeded")
    assert succeeded.count() == 2
    paid.refresh_from_db()
    assert (paid.status, paid.flagged) == (Payment.Status.PARTIALLY_REFUNDED, False)


def test_charge_refunded_total_never_settles_a_refund_not_sent_yet(client, paid):
    """Marked SUCCEEDED, a refund our task has not sent would never be sent: only the
    task settles it, from Stripe's answer."""
    from refunds.services import create_refund

    unsent = create_refund(
        booking=paid.booking,
        payment=paid,
        amount_minor=paid.amount_minor,
        source="manual",
        reason="support",
    )

    response = deliver(client, charge(paid, amount_refunded=paid.amount_minor))

    assert response.json()["outcome"] == "processed"
    unsent.refresh_from_db()
    assert (unsent.status, unsent.gateway_refund_id) == (Refund.Status.PENDING, "")
    paid.refresh_from_db()
    assert (paid.status, paid.flagged) == (Payment.Status.CAPTURED, False)


def test_charge_refunded_beyond_our_refunds_flags_the_payment_once(client, paid):
    refunded_elsewhere = charge(paid, amount_refunded=5000)  # e.g. from the Stripe dashboard

    response = deliver(client, refunded_elsewhere)
    deliver(client, charge(paid, amount_refunded=5000))  # same total, another event

    assert response.json()["outcome"] == "flagged"
    paid.refresh_from_db()
    assert paid.flagged
    assert "5000" in paid.flag_reason
    flags = BookingEvent.objects.filter(booking_id=paid.booking_id, kind="payment_flagged")
    assert flags.count() == 1
    assert not Refund.objects.exists()


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
