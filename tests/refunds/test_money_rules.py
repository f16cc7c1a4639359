"""Refunds never add up to more than was captured, whatever their source; disputes."""

from datetime import timedelta

import pytest
import responses
import time_machine

from bookings.models import BookingStatus
from payments.models import Payment
from refunds import services
from refunds.cancellation import cancel_booking
from refunds.errors import DisputeNotOpen, NothingCaptured, RefundExceedsCaptured
from refunds.models import Dispute, Refund
from tests.concurrency import run_concurrently
from tests.factories.refunds import create_refund_of
from tests.refunds.fake_gateways import FakeRefunds


def _total(payment) -> int:
    return sum(
        Refund.objects.filter(payment=payment)
        .exclude(status=Refund.Status.FAILED)
        .values_list("amount_minor", flat=True)
    )


@pytest.mark.django_db
def test_cancellation_manual_and_dispute_refunds_share_one_ceiling(captured_payment, support_user):
    payment = captured_payment(amount=49900)
    booking = payment.booking
    with time_machine.travel(booking.slot.start - timedelta(hours=13), tick=False):
        _b, automatic, _outcome = cancel_booking(
            booking_id=booking.pk, actor=booking.customer, by="customer", reason="late"
        )
    assert automatic.amount_minor == 24950
    services.refund_booking_manually(
        booking_id=booking.pk, amount_minor=20000, reason="goodwill", actor=support_user
    )
    dispute = services.open_dispute(booking_id=booking.pk, customer=booking.customer, reason="x")
    with pytest.raises(RefundExceedsCaptured):
        services.resolve_dispute_with_refund(
            dispute_id=dispute.pk, amount_minor=4951, note="too much", actor=support_user
        )
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN  # the failed resolution rolled back
    services.resolve_dispute_with_refund(
        dispute_id=dispute.pk, amount_minor=4950, note="rest", actor=support_user
    )
    assert _total(payment) == 49900
    with pytest.raises(RefundExceedsCaptured):
        services.create_refund(
            booking=booking,
            payment=payment,
            amount_minor=1,
            source=Refund.Source.LATE_CAPTURE,
            reason="late capture",
        )
    assert _total(payment) == 49900


@pytest.mark.django_db
def test_a_failed_refund_frees_its_room_but_cannot_be_retried_into_an_excess(
    captured_payment, support_user
):
    payment = captured_payment(amount=10000)
    first = create_refund_of(payment, 10000, reason="a")
    services.mark_refund_failed(refund_id=first.pk, error="card closed")
    replacement = services.refund_booking_manually(
        booking_id=payment.booking_id, amount_minor=10000, reason="b", actor=support_user
    )
    with pytest.raises(RefundExceedsCaptured):
        services.retry_refund(refund_id=first.pk, actor=support_user)
    first.refresh_from_db()
    assert first.status == Refund.Status.FAILED
    assert _total(payment) == replacement.amount_minor == 10000


@pytest.mark.django_db
def test_zero_refund_is_recorded_as_not_required_and_never_sent(
    captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refund = services.create_refund(
            booking=payment.booking,
            payment=payment,
            amount_minor=0,
            source=Refund.Source.CANCELLATION,
            reason="0 % tier",
            percent=0,
        )
    assert refund.status == Refund.Status.NOT_REQUIRED
    assert not [c for c in callbacks if "enqueue_execution" in c.__qualname__]


@pytest.mark.django_db(transaction=True)
def test_concurrent_manual_refunds_never_exceed_the_capture(captured_payment, support_user):
    payment = captured_payment(amount=49900)
    threads_count = 6

    def refund(index: int) -> str:
        try:
            services.refund_booking_manually(
                booking_id=payment.booking_id,
                amount_minor=10000,
                reason="race",
                actor=support_user,
            )
            return "ok"
        except RefundExceedsCaptured:
            return "409"

    outcomes = run_concurrently(threads_count, refund)

    assert sorted(outcomes) == ["409", "409", "ok", "ok", "ok", "ok"]
    assert _total(payment) == 40000


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_cancel_manual_and_dispute_refunds_racing_on_one_booking_stay_within_the_capture(
    fake_gateways, captured_payment, support_user
):
    """A customer cancel (automatic refund, capped at what is left), three manual refunds
    and a chargeback resolved with a refund, all at once on one booking, each refund
    executed through the (faked) gateway right after its transaction commits."""
    payment = captured_payment(gateway="stripe", amount=49900)
    booking = payment.booking
    dispute = services.record_gateway_dispute(
        payment=payment, gateway_dispute_id="dp_race", reason="chargeback"
    )
    gateway = FakeRefunds("stripe", payment).install()

    def cancel():
        return cancel_booking(
            booking_id=booking.pk, actor=booking.customer, by="customer", reason="race"
        ).refund

    def resolve_dispute():
        return services.resolve_dispute_with_refund(
            dispute_id=dispute.pk, amount_minor=20000, note="race", actor=support_user
        ).refund

    def manual():
        return services.refund_booking_manually(
            booking_id=booking.pk, amount_minor=15000, reason="race", actor=support_user
        )

    actions = [cancel, resolve_dispute, manual, manual, manual]

    def act(index: int) -> Refund | None:
        try:
            return actions[index]()
        except RefundExceedsCaptured:
            return None

    made = [refund for refund in run_concurrently(len(actions), act) if refund is not None]

    refunds = list(Refund.objects.filter(payment=payment))
    # Every refund row is an accepted request; a refused one (409) left nothing behind.
    assert sorted(r.pk for r in made) == sorted(r.pk for r in refunds)
    assert {r.status for r in refunds} <= {Refund.Status.SUCCEEDED, Refund.Status.NOT_REQUIRED}
    # The cancellation always comes through and takes what is left: the capture, exactly.
    assert _total(payment) == 49900
    # The gateway made exactly the refunds we record as succeeded, with their amounts.
    succeeded = [r for r in refunds if r.status == Refund.Status.SUCCEEDED]
    assert len(gateway.refunds) == len(succeeded)
    for refund in succeeded:
        made_at_gateway = gateway.refund_for(refund)
        assert (made_at_gateway["id"], made_at_gateway["amount"]) == (
            refund.gateway_refund_id,
            refund.amount_minor,
        )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    dispute.refresh_from_db()
    resolved = any(r.source == Refund.Source.DISPUTE for r in refunds)
    assert (dispute.status == Dispute.Status.RESOLVED_REFUND) == resolved
    assert (dispute.refund_id is not None) == resolved


@pytest.mark.django_db
def test_gateway_dispute_is_recorded_once_per_gateway_id(captured_payment):
    payment = captured_payment(status=BookingStatus.COMPLETED)
    first = services.record_gateway_dispute(
        payment=payment, gateway_dispute_id="dp_1", reason="fraudulent"
    )
    again = services.record_gateway_dispute(
        payment=payment, gateway_dispute_id="dp_1", reason="fraudulent"
    )
    assert first.pk == again.pk
    assert (first.source, first.status, first.raised_by) == ("gateway", "open", None)
    assert Dispute.objects.count() == 1
    assert payment.booking.events.filter(kind="dispute_opened").count() == 1


@pytest.mark.django_db
def test_gateway_dispute_joins_the_open_customer_dispute(captured_payment):
    payment = captured_payment(status=BookingStatus.COMPLETED)
    booking = payment.booking
    customer_dispute = services.open_dispute(
        booking_id=booking.pk, customer=booking.customer, reason="bad"
    )
    joined = services.record_gateway_dispute(
        payment=payment, gateway_dispute_id="disp_9", reason="chargeback"
    )
    assert joined.pk == customer_dispute.pk
    assert joined.gateway_dispute_id == "disp_9"
    assert Dispute.objects.count() == 1
    assert (
        services.record_gateway_dispute(payment=payment, gateway_dispute_id="disp_9", reason="")
    ).pk == customer_dispute.pk


@pytest.mark.django_db
def test_a_closed_dispute_cannot_be_resolved_again_and_needs_a_capture(
    captured_payment, customer, support_user
):
    from tests.factories.bookings import BookingFactory

    payment = captured_payment(status=BookingStatus.COMPLETED)
    dispute = services.open_dispute(
        booking_id=payment.booking_id, customer=payment.booking.customer, reason="x"
    )
    services.reject_dispute(dispute_id=dispute.pk, note="no", actor=support_user)
    with pytest.raises(DisputeNotOpen):
        services.resolve_dispute_with_refund(
            dispute_id=dispute.pk, amount_minor=100, note="yes", actor=support_user
        )
    assert not Refund.objects.exists()

    unpaid = BookingFactory(customer=customer, status=BookingStatus.CANCELLED)
    unpaid_dispute = services.open_dispute(booking_id=unpaid.pk, customer=customer, reason="y")
    with pytest.raises(NothingCaptured):
        services.resolve_dispute_with_refund(
            dispute_id=unpaid_dispute.pk, amount_minor=100, note="z", actor=support_user
        )
    unpaid_dispute.refresh_from_db()
    assert unpaid_dispute.status == Dispute.Status.OPEN
