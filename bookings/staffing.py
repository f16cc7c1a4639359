"""Staff assignment: which of the partner's staff does the job of a confirmed booking.

The code-verified steps of the service day (arrival, completion) build on it in
``otp.service_day``.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from bookings.errors import BookingNotFound, InvalidTransition, StaffBusy, StaffNotFound
from bookings.models import STAFF_BUSY_STATUSES, Booking, BookingStatus
from bookings.transitions import record_event
from common.constraints import violated_exclusion
from common.locking import lock
from partners.models import Staff


def partner_booking(*, partner, booking_id: int) -> Booking:
    booking = Booking.objects.filter(pk=booking_id, partner=partner).first()
    if booking is None:
        raise BookingNotFound()
    return booking


def customer_booking(*, customer, booking_id: int) -> Booking:
    booking = Booking.objects.filter(pk=booking_id, customer=customer).first()
    if booking is None:
        raise BookingNotFound()
    return booking


def require_status(booking: Booking, status: str, action: str) -> None:
    if booking.status != status:
        raise InvalidTransition(f"Cannot {action} a booking that is {booking.status}.")


@transaction.atomic
def assign_staff(*, partner, booking_id: int, staff_id: int, actor) -> Booking:
    """Assign (or reassign) one of the partner's active staff to a CONFIRMED booking.

    One conditional UPDATE (``status = CONFIRMED``), so an assignment racing with the
    arrival either lands before it or fails with 409; each change is a ``staff_assigned``
    timeline event. Another partner's or inactive staff, or another's booking: 404.
    Assigning the staff member already assigned changes nothing. A staff member already
    on an active booking whose time overlaps is :class:`StaffBusy` (409 ``staff_busy``),
    decided by the database (exclusion constraint ``booking_staff_no_overlap``), so of
    two concurrent assignments of one person to overlapping bookings one wins.
    """
    current = (
        lock(Booking.objects.filter(pk=booking_id, partner=partner))
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
    # Assignments of one person queue on their row: two transactions writing conflicting
    # rows of an exclusion constraint wait for each other and one dies of a deadlock.
    lock(Staff.objects.filter(pk=staff.pk)).values_list("pk").first()
    if connection.vendor != "postgresql" and _busy_elsewhere(staff=staff, booking_id=booking_id):
        # The embedded SQLite default has no exclusion constraints: the same rule as a query.
        raise StaffBusy(f"{staff.name} has another booking at that time.")
    try:
        with transaction.atomic():  # savepoint: the violation must not poison the caller
            updated = Booking.objects.filter(
                pk=booking_id, partner=partner, status=BookingStatus.CONFIRMED
            ).update(assigned_staff=staff, updated_at=timezone.now())
    except IntegrityError as exc:
        if violated_exclusion(exc) != "booking_staff_no_overlap":
            raise
        raise StaffBusy(f"{staff.name} has another booking at that time.") from None
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


def _busy_elsewhere(*, staff: Staff, booking_id: int) -> bool:
    """Whether ``staff`` is on another active booking whose time overlaps this one's."""
    this = Booking.objects.values("slot_start", "slot_end").get(pk=booking_id)
    return (
        Booking.objects.filter(
            assigned_staff=staff,
            status__in=STAFF_BUSY_STATUSES,
            slot_start__lt=this["slot_end"],
            slot_end__gt=this["slot_start"],
        )
        .exclude(pk=booking_id)
        .exists()
    )
