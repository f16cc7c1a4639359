"""When our hold expires before the Stripe Checkout Session would, the session is closed."""

from __future__ import annotations

import pytest
import responses

from bookings.models import BookingStatus
from bookings.transitions import transition_booking
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory

pytestmark = pytest.mark.django_db


def expire(booking) -> None:
    transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.EXPIRED,
        actor_label="system",
        reason="Hold expired.",
        release_seats=True,
    )


@responses.activate
def test_expiring_a_stripe_booking_expires_its_checkout_session(
    django_capture_on_commit_callbacks,
):
    payment = PaymentFactory(booking=BookingFactory(), gateway="stripe", order_id="cs_test_EXP")
    call = responses.post(
        "https://stripe.fake/v1/checkout/sessions/cs_test_EXP/expire",
        json={"id": "cs_test_EXP", "object": "checkout.session", "status": "expired"},
    )

    with django_capture_on_commit_callbacks(execute=True):
        expire(payment.booking)

    assert call.call_count == 1


@responses.activate
def test_an_already_completed_session_is_left_alone(django_capture_on_commit_callbacks):
    payment = PaymentFactory(booking=BookingFactory(), gateway="stripe", order_id="cs_test_DONE")
    call = responses.post(
        "https://stripe.fake/v1/checkout/sessions/cs_test_DONE/expire",
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "already complete"}},
    )

    with django_capture_on_commit_callbacks(execute=True):
        expire(payment.booking)  # must not raise

    assert call.call_count == 1


@responses.activate
def test_other_gateways_and_captured_payments_make_no_call(django_capture_on_commit_callbacks):
    sandbox = PaymentFactory(booking=BookingFactory(), gateway="sandbox")
    captured = PaymentFactory(booking=BookingFactory(), gateway="stripe", status="captured")

    with django_capture_on_commit_callbacks(execute=True):
        expire(sandbox.booking)
        expire(captured.booking)

    assert len(responses.calls) == 0  # responses records unmatched requests too
