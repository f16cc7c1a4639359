"""Cancelling bookings: state, seats, the policy's refund, ownership and repeats."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings.errors import AlreadyCancelled, BookingNotFound, InvalidTransition
from bookings.models import Booking, BookingEvent, BookingStatus
from payments.models import Payment
from refunds.cancellation import cancel_booking
from refunds.models import Refund, RefundPolicy
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, StaffFactory
from tests.factories.refunds import CapturedPaymentFactory, RefundPolicyFactory


@pytest.fixture
def paid_booking(customer, make_slot, variant):
    """``paid_booking(hours=48, staff=True, status=CONFIRMED)``: a captured booking."""

    def make(*, hours: float = 48, staff: bool = True, **fields):
        slot = make_slot(hours=hours)
        fields.setdefault("status", BookingStatus.CONFIRMED)
        booking = BookingFactory(
            customer=customer,
            slot=slot,
            variant=variant,
            assigned_staff=StaffFactory(partner=slot.partner) if staff else None,
            **fields,
        )
        CapturedPaymentFactory(booking=booking)
        return booking

    return make


def _refund_runs(callbacks) -> int:
    """How many of the on_commit callbacks enqueue ``execute_refund``."""
    return sum("enqueue_execution" in c.__qualname__ for c in callbacks)


def _cancel(booking, *, by="customer", reason="plans changed", actor=None):
    if actor is None:
        actor = booking.customer if by == "customer" else booking.partner.user
    result = cancel_booking(booking_id=booking.pk, actor=actor, by=by, reason=reason)
    return result.booking, result.refund


@pytest.mark.django_db
def test_customer_cancel_a_day_ahead_cancels_releases_seats_and_refunds_in_full(
    paid_booking, django_capture_on_commit_callbacks
):
    booking = paid_booking(hours=48)
    assert booking.slot.booked == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cancelled, refund = _cancel(booking)

    assert cancelled.status == BookingStatus.CANCELLED
    booking.slot.refresh_from_db()
    assert booking.slot.booked == 0
    assert not Booking.objects.get(pk=booking.pk).holds_seats
    assert refund.amount_minor == 49900
    assert refund.percent == 100
    assert refund.status == Refund.Status.PENDING
    assert refund.source == Refund.Source.CANCELLATION
    assert refund.policy_version == RefundPolicy.objects.get(active=True).version
    assert refund.payment_id == booking.payment.pk
    assert _refund_runs(callbacks) == 1  # execute_refund enqueued after commit
    kinds = list(BookingEvent.objects.filter(booking=booking).values_list("kind", "to_status"))
    assert ("transition", BookingStatus.CANCELLED) in kinds
    assert ("refund_created", "") in kinds


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("before_start", "percent", "amount", "status"),
    [
        (timedelta(hours=24), 100, 49900, Refund.Status.PENDING),
        (timedelta(hours=24) - timedelta(seconds=1), 50, 24950, Refund.Status.PENDING),
        (timedelta(hours=12), 50, 24950, Refund.Status.PENDING),
        (timedelta(hours=12) - timedelta(seconds=1), 0, 0, Refund.Status.NOT_REQUIRED),
    ],
)
def test_customer_refund_follows_the_tiers_at_the_exact_boundary(
    paid_booking, before_start, percent, amount, status, django_capture_on_commit_callbacks
):
    booking = paid_booking(hours=72)
    with (
        time_machine.travel(booking.slot.start - before_start, tick=False),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        _booking, refund = _cancel(booking)
    assert (refund.percent, refund.amount_minor, refund.status) == (percent, amount, status)
    assert _refund_runs(callbacks) == (1 if amount else 0)  # nothing is sent for a 0 refund


@pytest.mark.django_db
def test_customer_cancel_before_staff_is_assigned_refunds_in_full_even_late(paid_booking):
    booking = paid_booking(hours=2, staff=False)
    _booking, refund = _cancel(booking)
    assert (refund.percent, refund.amount_minor) == (100, 49900)


@pytest.mark.django_db
def test_provider_cancel_refunds_in_full_even_an_hour_before(paid_booking):
    booking = paid_booking(hours=1)
    cancelled, refund = _cancel(booking, by="provider")
    assert cancelled.status == BookingStatus.CANCELLED
    assert (refund.percent, refund.amount_minor) == (100, 49900)
    event = BookingEvent.objects.get(booking=booking, to_status=BookingStatus.CANCELLED)
    assert event.actor == booking.partner.user
    assert event.data == {"cancelled_by": "provider"}


@pytest.mark.django_db
def test_the_active_custom_policy_is_used_and_its_version_stored(paid_booking):
    policy = RefundPolicyFactory(
        tiers=[{"min_hours_before": 24, "percent": 75}, {"min_hours_before": 0, "percent": 0}]
    )
    early = paid_booking(hours=30)
    late = paid_booking(hours=20)
    _b, early_refund = _cancel(early)
    _b, late_refund = _cancel(late)
    assert (early_refund.percent, early_refund.amount_minor) == (75, 37425)
    assert early_refund.policy_version == policy.version
    assert (late_refund.percent, late_refund.amount_minor) == (0, 0)


@pytest.mark.django_db
def test_odd_amount_half_rounds_in_the_customers_favour(paid_booking):
    booking = paid_booking(hours=13, amount_minor=101)
    _b, refund = _cancel(booking)
    assert (refund.percent, refund.amount_minor) == (50, 51)


@pytest.mark.django_db
def test_unpaid_pending_booking_cancel_releases_seats_without_a_refund(
    customer, make_slot, variant
):
    slot = make_slot()
    booking = BookingFactory(customer=customer, slot=slot, variant=variant)
    cancelled, refund = _cancel(booking)
    assert refund is None
    assert cancelled.status == BookingStatus.CANCELLED
    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_second_cancel_is_rejected_with_already_cancelled_and_refunds_nothing_more(paid_booking):
    booking = paid_booking()
    _cancel(booking)
    with pytest.raises(AlreadyCancelled):
        _cancel(booking, by="provider")
    with pytest.raises(AlreadyCancelled):
        _cancel(booking)
    assert Refund.objects.count() == 1
    booking.slot.refresh_from_db()
    assert booking.slot.booked == 0  # released once, not twice
    assert BookingEvent.objects.filter(booking=booking, to_status="CANCELLED").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status",
    [BookingStatus.IN_PROGRESS, BookingStatus.COMPLETED, BookingStatus.EXPIRED],
)
def test_cancel_from_another_state_is_an_invalid_transition_and_writes_nothing(
    paid_booking, status
):
    booking = paid_booking(status=status)
    with pytest.raises(InvalidTransition) as exc:
        _cancel(booking)
    assert exc.value.code == "invalid_transition"
    assert Booking.objects.get(pk=booking.pk).status == status
    assert not Refund.objects.exists()
    assert Payment.objects.get(booking=booking).status == Payment.Status.CAPTURED


@pytest.mark.django_db
def test_someone_elses_booking_is_not_found(paid_booking, customer):
    from tests.factories.accounts import CustomerFactory

    booking = paid_booking()
    with pytest.raises(BookingNotFound):
        _cancel(booking, actor=CustomerFactory())
    with pytest.raises(BookingNotFound):
        _cancel(booking, by="provider", actor=PartnerFactory().user)
    with pytest.raises(BookingNotFound):  # the customer cannot act as the provider
        _cancel(booking, by="provider", actor=customer)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


@pytest.mark.django_db
def test_cancel_after_an_earlier_manual_refund_never_exceeds_the_capture(
    paid_booking, support_user
):
    from refunds.services import refund_booking_manually

    booking = paid_booking(hours=48)
    refund_booking_manually(
        booking_id=booking.pk, amount_minor=30000, reason="goodwill", actor=support_user
    )
    _b, refund = _cancel(booking)
    assert refund.amount_minor == 49900 - 30000
    total = sum(Refund.objects.values_list("amount_minor", flat=True))
    assert total == 49900


@pytest.mark.django_db
def test_slot_start_in_the_past_gives_zero_for_a_late_customer(paid_booking):
    booking = paid_booking(hours=1)
    with time_machine.travel(booking.slot.start + timedelta(minutes=5), tick=False):
        _b, refund = _cancel(booking)
    assert (refund.percent, refund.amount_minor, refund.status) == (0, 0, "not_required")
    assert timezone.now() < booking.slot.start  # travel ended


@pytest.mark.django_db(transaction=True)
def test_cancel_racing_captures_of_a_pending_booking_refunds_once_without_deadlock(
    customer, make_slot, variant
):
    """Cancel and capture both lock the payment, then the booking: whichever wins, the
    booking ends CANCELLED with its seat free and exactly one full refund (by the policy
    after a capture, or as a late capture after the cancel)."""
    from payments.services import record_capture
    from tests.concurrency import run_concurrently
    from tests.factories.payments import PaymentFactory

    slot = make_slot(hours=48)
    booking = BookingFactory(
        customer=customer,
        slot=slot,
        variant=variant,
        assigned_staff=StaffFactory(partner=slot.partner),
    )
    payment = PaymentFactory(booking=booking)

    def act(index: int):
        if index == 0:
            return _cancel(booking)
        return record_capture(
            payment=payment,
            gateway_payment_id=f"sbx_pay_race{index}",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            label="sandbox",
        )

    run_concurrently(4, act)

    booking.refresh_from_db()
    slot.refresh_from_db()
    payment.refresh_from_db()
    assert (booking.status, booking.holds_seats, slot.booked) == (
        BookingStatus.CANCELLED,
        False,
        0,
    )
    assert payment.captured_amount_minor == booking.amount_minor
    refunds = list(Refund.objects.filter(booking=booking))
    assert len(refunds) == 1
    assert refunds[0].amount_minor == booking.amount_minor
    assert refunds[0].status == Refund.Status.SUCCEEDED  # sandbox, executed after commit
    assert payment.status == Payment.Status.REFUNDED
