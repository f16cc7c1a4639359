"""The service day's code-verified steps: arrival and completion by one-time code.

State changes go through ``bookings.transitions`` (conditional UPDATEs); codes through
``otp.services``. The code-checking functions deliberately run their check OUTSIDE a
transaction: a wrong code's attempt count must commit although the request fails.
Only "consume the code + change the status" is one transaction, so a right code and
its step succeed or fail together, and two concurrent right submissions yield one
success (the consume UPDATE lets one through; the other gets ``otp_invalid``). That
transaction locks the booking row before the code (``common.locking`` order), the same
order as ``otp.services.issue_code``, so it cannot deadlock with a code being (re)issued.
Staff assignment, which arrival requires, is ``bookings.staffing``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings.errors import StaffNotAssigned
from bookings.models import Booking, BookingStatus
from bookings.staffing import customer_booking, partner_booking, require_status
from bookings.transitions import transition_booking
from common.locking import lock
from otp.errors import ArrivalTooEarly, ArrivalWindowPassed
from otp.models import OtpPurpose
from otp.services import check_code, consume_code, request_code


def completion_code_recipient(booking: Booking):
    """The assigned staff member, else the partner's login; None when nobody is reachable."""
    for person in (booking.assigned_staff, booking.partner.user):
        if person is not None and (person.email or person.phone):
            return person
    return None


def require_arrival_window(*, slot_start: datetime, slot_end: datetime) -> None:
    """Arrival can be confirmed from ``ARRIVAL_WINDOW_MINUTES`` before the slot starts
    until it ends: :class:`ArrivalTooEarly` (409 ``arrival_too_early``) before,
    :class:`ArrivalWindowPassed` (409 ``arrival_window_passed``) after."""
    now = timezone.now()
    opens = slot_start - timedelta(minutes=settings.ARRIVAL_WINDOW_MINUTES)
    if now < opens:
        raise ArrivalTooEarly(
            f"Arrival can be confirmed from {opens.isoformat()} "
            f"({settings.ARRIVAL_WINDOW_MINUTES} minutes before the slot starts)."
        )
    if now >= slot_end:
        raise ArrivalWindowPassed(f"The slot ended at {slot_end.isoformat()}.")


def confirm_arrival(*, partner, booking_id: int, code: str, actor) -> Booking:
    """The staff member arrived: the customer's arrival code moves CONFIRMED -> IN_PROGRESS.

    Only from ``ARRIVAL_WINDOW_MINUTES`` before the slot starts until it ends (409
    ``arrival_too_early`` / ``arrival_window_passed``, checked before the code, so an
    early try costs no attempt and changes nothing, and again under the booking's lock
    against a reschedule in between). Requires an assigned staff member (409
    ``staff_not_assigned``). Errors: 404, 409 ``invalid_transition``, 400
    ``otp_invalid``/``otp_expired``/``otp_locked``/``otp_not_issued``. Do not call
    inside a transaction (see module docstring).
    """
    booking = partner_booking(partner=partner, booking_id=booking_id)
    require_status(booking, BookingStatus.CONFIRMED, "confirm the arrival for")
    if booking.assigned_staff_id is None:
        raise StaffNotAssigned("Assign a staff member before confirming the arrival.")
    require_arrival_window(slot_start=booking.slot_start, slot_end=booking.slot_end)
    otp_id = check_code(booking_id=booking.pk, purpose=OtpPurpose.ARRIVAL, code=code)
    with transaction.atomic():
        # Booking row first, then the code (the order issue_code locks them in), and the
        # staff recorded is the one assigned when the booking moves (a reassignment may
        # have landed since the read above), in the window of the slot it has now.
        staff_id, slot_start, slot_end = (
            lock(Booking.objects.filter(pk=booking.pk))
            .values_list("assigned_staff_id", "slot_start", "slot_end")
            .get()
        )
        require_arrival_window(slot_start=slot_start, slot_end=slot_end)
        consume_code(otp_id=otp_id)
        booking, _ = transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.CONFIRMED],
            to_status=BookingStatus.IN_PROGRESS,
            actor=actor,
            reason="Arrival confirmed with the customer's code",
            data={"staff_id": staff_id},
        )
    return booking


def mark_complete(*, partner, booking_id: int, actor) -> Booking:
    """The job is done: IN_PROGRESS -> AWAITING_COMPLETION, completion code to the staff.

    The code is queued by the status-change receiver (``otp.receivers``). Calling
    it again while AWAITING_COMPLETION re-sends a fresh completion code (rate-limited:
    429 ``otp_rate_limited``). Other states: 409.
    """
    booking = partner_booking(partner=partner, booking_id=booking_id)
    if booking.status == BookingStatus.AWAITING_COMPLETION:
        request_code(
            booking=booking,
            purpose=OtpPurpose.COMPLETION,
            recipient=completion_code_recipient(booking),
        )
        return booking
    require_status(booking, BookingStatus.IN_PROGRESS, "mark complete")
    booking, _ = transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.IN_PROGRESS],
        to_status=BookingStatus.AWAITING_COMPLETION,
        actor=actor,
        reason="Marked complete by the partner",
    )
    return booking


def verify_completion(*, customer, booking_id: int, code: str) -> Booking:
    """The customer confirms the job with the completion code: -> COMPLETED.

    Same errors and transaction rules as :func:`confirm_arrival`.
    """
    booking = customer_booking(customer=customer, booking_id=booking_id)
    require_status(booking, BookingStatus.AWAITING_COMPLETION, "verify the completion of")
    otp_id = check_code(booking_id=booking.pk, purpose=OtpPurpose.COMPLETION, code=code)
    with transaction.atomic():
        # Booking row first, then the code: the order issue_code locks them in.
        lock(Booking.objects.filter(pk=booking.pk)).values_list("pk").get()
        consume_code(otp_id=otp_id)
        booking, _ = transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.AWAITING_COMPLETION],
            to_status=BookingStatus.COMPLETED,
            actor=customer,
            reason="Completion verified with the staff member's code",
        )
    return booking


def resend_arrival_code(*, customer, booking_id: int) -> Booking:
    """Send the customer a fresh arrival code (the previous one stops working).

    Only while CONFIRMED (409 otherwise); rate-limited per booking (429).
    """
    booking = customer_booking(customer=customer, booking_id=booking_id)
    require_status(booking, BookingStatus.CONFIRMED, "resend the arrival code of")
    request_code(booking=booking, purpose=OtpPurpose.ARRIVAL, recipient=customer)
    return booking
