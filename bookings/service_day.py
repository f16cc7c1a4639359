"""The service day of a booking: staff assignment, arrival and completion by one-time code.

State changes go through ``bookings.transitions`` (conditional UPDATEs); codes through
``otp.services``. The code-checking functions deliberately run their check OUTSIDE a
transaction: a wrong code's attempt count must commit although the request fails.
Only "consume the code + change the status" is one transaction, so a right code and
its step succeed or fail together, and two concurrent right submissions yield one
success (the consume UPDATE lets one through; the other gets ``otp_invalid``). That
transaction locks the booking row before touching the code, the same order as
``otp.services.issue_code``, so it cannot deadlock with a code being (re)issued.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from bookings.errors import InvalidTransition
from bookings.models import Booking, BookingStatus
from bookings.transitions import record_event, transition_booking
from common.problems import Conflict, NotFound
from notifications.receivers import completion_code_recipient
from otp.models import OtpPurpose
from otp.services import check_code, consume_code, request_code
from partners.models import Staff


class BookingNotFound(NotFound):
    code = "booking_not_found"
    title = "Booking not found"


class StaffNotFound(NotFound):
    code = "staff_not_found"
    title = "Staff member not found"


class StaffNotAssigned(Conflict):
    code = "staff_not_assigned"
    title = "No staff member is assigned to the booking"


def _partner_booking(*, partner, booking_id: int) -> Booking:
    booking = Booking.objects.filter(pk=booking_id, partner=partner).first()
    if booking is None:
        raise BookingNotFound()
    return booking


def _customer_booking(*, customer, booking_id: int) -> Booking:
    booking = Booking.objects.filter(pk=booking_id, customer=customer).first()
    if booking is None:
        raise BookingNotFound()
    return booking


def _require_status(booking: Booking, status: str, action: str) -> None:
    if booking.status != status:
        raise InvalidTransition(f"Cannot {action} a booking that is {booking.status}.")


@transaction.atomic
def assign_staff(*, partner, booking_id: int, staff_id: int, actor) -> Booking:
    """Assign (or reassign) one of the partner's active staff to a CONFIRMED booking.

    One conditional UPDATE (``status = CONFIRMED``), so an assignment racing with the
    arrival either lands before it or fails with 409; each change is a ``staff_assigned``
    timeline event. Another partner's or inactive staff, or another's booking: 404.
    Assigning the staff member already assigned changes nothing.
    """
    current = (
        Booking.objects.select_for_update()
        .filter(pk=booking_id, partner=partner)
        .values_list("status", "assigned_staff_id")
        .first()
    )
    if current is None:
        raise BookingNotFound()
    staff = Staff.objects.filter(pk=staff_id, partner=partner, active=True).first()
    if staff is None:
        raise StaffNotFound()
    status, previous_staff_id = current
    if status != BookingStatus.CONFIRMED:
        raise InvalidTransition(f"Staff can be assigned only to a confirmed booking, not {status}.")
    if previous_staff_id == staff.pk:
        return Booking.objects.get(pk=booking_id)
    updated = Booking.objects.filter(
        pk=booking_id, partner=partner, status=BookingStatus.CONFIRMED
    ).update(assigned_staff=staff, updated_at=timezone.now())
    if updated != 1:  # pragma: no cover - the row lock above makes this unreachable
        raise InvalidTransition("Staff can be assigned only to a confirmed booking.")
    record_event(
        booking_id=booking_id,
        kind="staff_assigned",
        actor=actor,
        reason=f"Assigned {staff.name}",
        data={"staff_id": staff.pk, "previous_staff_id": previous_staff_id},
    )
    return Booking.objects.get(pk=booking_id)


def confirm_arrival(*, partner, booking_id: int, code: str, actor) -> Booking:
    """The staff member arrived: the customer's arrival code moves CONFIRMED -> IN_PROGRESS.

    Requires an assigned staff member (409 ``staff_not_assigned``). Errors: 404, 409
    ``invalid_transition``, 400 ``otp_invalid``/``otp_expired``/``otp_locked``/
    ``otp_not_issued``. Do not call inside a transaction (see module docstring).
    """
    booking = _partner_booking(partner=partner, booking_id=booking_id)
    _require_status(booking, BookingStatus.CONFIRMED, "confirm the arrival for")
    if booking.assigned_staff_id is None:
        raise StaffNotAssigned("Assign a staff member before confirming the arrival.")
    otp_id = check_code(booking_id=booking.pk, purpose=OtpPurpose.ARRIVAL, code=code)
    with transaction.atomic():
        # Booking row first, then the code (the order issue_code locks them in), and the
        # staff recorded is the one assigned when the booking moves (a reassignment may
        # have landed since the read above).
        staff_id = (
            Booking.objects.select_for_update()
            .filter(pk=booking.pk)
            .values_list("assigned_staff_id", flat=True)
            .get()
        )
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

    The code is queued by the status-change receiver (notifications.receivers). Calling
    it again while AWAITING_COMPLETION re-sends a fresh completion code (rate-limited:
    429 ``otp_rate_limited``). Other states: 409.
    """
    booking = _partner_booking(partner=partner, booking_id=booking_id)
    if booking.status == BookingStatus.AWAITING_COMPLETION:
        request_code(
            booking=booking,
            purpose=OtpPurpose.COMPLETION,
            recipient=completion_code_recipient(booking),
        )
        return booking
    _require_status(booking, BookingStatus.IN_PROGRESS, "mark complete")
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
    booking = _customer_booking(customer=customer, booking_id=booking_id)
    _require_status(booking, BookingStatus.AWAITING_COMPLETION, "verify the completion of")
    otp_id = check_code(booking_id=booking.pk, purpose=OtpPurpose.COMPLETION, code=code)
    with transaction.atomic():
        # Booking row first, then the code: the order issue_code locks them in.
        Booking.objects.select_for_update().filter(pk=booking.pk).values_list("pk").get()
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
    booking = _customer_booking(customer=customer, booking_id=booking_id)
    _require_status(booking, BookingStatus.CONFIRMED, "resend the arrival code of")
    request_code(booking=booking, purpose=OtpPurpose.ARRIVAL, recipient=customer)
    return booking
