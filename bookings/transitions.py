"""Booking state changes: one conditional UPDATE each, with a timeline event.

Every other module (payments, otp, refunds) moves bookings only through
:func:`transition_booking`, so the booking state machine of docs/architecture.md holds in
one place: a transition is ``UPDATE ... WHERE id = %s AND status IN (...)``;
zero rows means another actor got there first and the caller gets
:class:`InvalidTransition` (409).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F

from bookings.errors import InvalidTransition
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.signals import booking_status_changed
from common.locking import lock
from partners.models import Slot

# Allowed moves (docs/architecture.md, "Booking states"). Used for validation and
# documentation; callers still pass the from-states they accept so a transition can be
# narrower than the graph.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    BookingStatus.PENDING_PAYMENT: {
        BookingStatus.CONFIRMED,
        BookingStatus.PAYMENT_FAILED,
        BookingStatus.EXPIRED,
        BookingStatus.CANCELLED,
    },
    # Late capture: a booking that lost its hold can still be confirmed if seats are free.
    BookingStatus.PAYMENT_FAILED: {BookingStatus.CONFIRMED},
    BookingStatus.EXPIRED: {BookingStatus.CONFIRMED},
    BookingStatus.CANCELLED: set(),
    BookingStatus.CONFIRMED: {BookingStatus.IN_PROGRESS, BookingStatus.CANCELLED},
    BookingStatus.IN_PROGRESS: {BookingStatus.AWAITING_COMPLETION},
    BookingStatus.AWAITING_COMPLETION: {BookingStatus.COMPLETED},
    BookingStatus.COMPLETED: set(),
}


def record_event(
    *,
    booking_id: int,
    from_status: str = "",
    to_status: str = "",
    kind: str = "transition",
    actor=None,
    actor_label: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> BookingEvent:
    """Append one entry to a booking's timeline (call inside the changing transaction)."""
    return BookingEvent.objects.create(
        booking_id=booking_id,
        from_status=from_status,
        to_status=to_status,
        kind=kind,
        actor=actor,
        actor_label=actor_label,
        reason=reason[:255],
        data=data or {},
    )


@transaction.atomic
def transition_booking(
    *,
    booking_id: int,
    from_statuses: Iterable[str],
    to_status: str,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    release_seats: bool = False,
    extra_updates: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> tuple[Booking, str]:
    """Move a booking from one of ``from_statuses`` to ``to_status`` atomically.

    Returns the refreshed booking and the status it left. With ``release_seats``
    the booking's seats go back to its slot in the same transaction, exactly once
    (guarded by ``holds_seats``). Raises :class:`InvalidTransition` when the
    booking is in none of ``from_statuses`` (or does not exist).
    """
    from_statuses = list(from_statuses)
    for source in from_statuses:
        if to_status not in ALLOWED_TRANSITIONS.get(source, set()):
            raise ValueError(f"{source} -> {to_status} is not a booking transition")

    # Lock the row so we learn the status we are leaving; the UPDATE's WHERE is the
    # real guard, the lock just makes the recorded from-status exact.
    current = (
        lock(Booking.objects.filter(pk=booking_id))
        .values_list("status", "holds_seats", "slot_id", "quantity")
        .first()
    )
    if current is None or current[0] not in from_statuses:
        raise InvalidTransition(
            f"Booking cannot move to {to_status} from {current[0] if current else 'nowhere'}."
        )
    previous_status, holds_seats, slot_id, quantity = current

    updates: dict[str, Any] = {"status": to_status, **(extra_updates or {})}
    release = release_seats and holds_seats
    if release:
        updates["holds_seats"] = False
    updated = Booking.objects.filter(pk=booking_id, status__in=from_statuses).update(**updates)
    if updated != 1:  # pragma: no cover - the row lock above makes this unreachable
        raise InvalidTransition(f"Booking cannot move to {to_status}.")
    if release:
        Slot.objects.filter(pk=slot_id).update(booked=F("booked") - quantity)

    record_event(
        booking_id=booking_id,
        from_status=previous_status,
        to_status=to_status,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
        data=data,
    )
    booking = Booking.objects.get(pk=booking_id)
    booking_status_changed.send(
        sender=Booking,
        booking=booking,
        from_status=previous_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
    )
    return booking, previous_status


def take_seats(*, slot_id: int, quantity: int) -> bool:
    """Take ``quantity`` seats of an open slot; False when there is no room.

    A single conditional UPDATE, so concurrent callers can never oversell; the
    CHECK constraint ``booked <= capacity`` is the last line of defence.
    """
    return (
        Slot.objects.filter(pk=slot_id, blocked=False, booked__lte=F("capacity") - quantity).update(
            booked=F("booked") + quantity
        )
        == 1
    )
