"""Booking state changes: one conditional UPDATE each, with a timeline event.

Two kinds of change: a status transition (:func:`transition_booking`) and a move to
another slot that keeps the status (:func:`move_booking`: reschedule, reassignment).

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
from django.utils import timezone

from bookings.errors import InvalidTransition, SlotBlocked, SlotUnavailable
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.pending import remove_pending
from bookings.signals import booking_moved, booking_status_changed
from common.locking import lock
from partners.models import STANDARD_SEAT_TYPE, Slot, SlotSeatType

# What the receivers of booking_status_changed / booking_moved read of the booking (the
# messages' context: customer, service and variant, partner and its city's time zone,
# slot): joined into the re-read of the changed row instead of one SELECT per relation.
RELATED_FOR_RECEIVERS = ("customer", "variant__service", "partner__city", "slot")

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
        .values_list(
            "status",
            "holds_seats",
            "slot_id",
            "quantity",
            "customer_id",
            "counts_as_pending",
            "seat_type",
        )
        .first()
    )
    if current is None or current[0] not in from_statuses:
        raise InvalidTransition(
            f"Booking cannot move to {to_status} from {current[0] if current else 'nowhere'}."
        )
    previous_status, holds_seats, slot_id, quantity, customer_id, counted, seat_type = current

    updates: dict[str, Any] = {"status": to_status, **(extra_updates or {})}
    release = release_seats and holds_seats
    if release:
        updates["holds_seats"] = False
    updated = Booking.objects.filter(pk=booking_id, status__in=from_statuses).update(**updates)
    if updated != 1:  # pragma: no cover - the row lock above makes this unreachable
        raise InvalidTransition(f"Booking cannot move to {to_status}.")
    # The customer's unpaid count before the slot: book_slot takes them in that order.
    if previous_status == BookingStatus.PENDING_PAYMENT and counted:
        remove_pending(customer_id=customer_id)
    if release:
        return_seats(slot_id=slot_id, quantity=quantity, seat_type=seat_type)

    record_event(
        booking_id=booking_id,
        from_status=previous_status,
        to_status=to_status,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
        data=data,
    )
    booking = Booking.objects.select_related(*RELATED_FOR_RECEIVERS).get(pk=booking_id)
    booking_status_changed.send(
        sender=Booking,
        booking=booking,
        from_status=previous_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
    )
    return booking, previous_status


def take_seats(*, slot_id: int, quantity: int, seat_type: str = STANDARD_SEAT_TYPE) -> bool:
    """Take ``quantity`` seats of ``seat_type`` of an open slot; False when there is no
    room (nothing changed then).

    Conditional UPDATEs, the slot's row first and then the seat type's (the order of every
    seat writer), so concurrent callers can never oversell either; the CHECK constraints
    ``booked <= capacity`` of both are the last line of defence.
    """
    room = F("capacity") - quantity
    taken = Slot.objects.filter(pk=slot_id, blocked=False, booked__lte=room).update(
        booked=F("booked") + quantity
    )
    if not taken:
        return False
    seats = SlotSeatType.objects.filter(slot_id=slot_id, code=seat_type, booked__lte=room)
    if seats.update(booked=F("booked") + quantity):
        return True
    # No room of that type: give the slot's seats back (its row stays ours until commit).
    Slot.objects.filter(pk=slot_id).update(booked=F("booked") - quantity)
    return False


def return_seats(*, slot_id: int, quantity: int, seat_type: str) -> None:
    """Give ``quantity`` seats of ``seat_type`` back to the slot (the slot's row first).
    Call only for a booking that holds them, in the transaction that records it."""
    Slot.objects.filter(pk=slot_id).update(booked=F("booked") - quantity)
    SlotSeatType.objects.filter(slot_id=slot_id, code=seat_type).update(
        booked=F("booked") - quantity
    )


@transaction.atomic
def move_booking(
    *,
    booking_id: int,
    from_statuses: Iterable[str],
    to_slot: Slot,
    kind: str,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    extra_updates: dict[str, Any] | None = None,
    only_if: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    seat_type: str | None = None,
) -> tuple[Booking, Slot]:
    """Move a seat-holding booking in one of ``from_statuses`` to ``to_slot``; returns the
    refreshed booking and the slot it left.

    One transaction, so there is never a moment where both or neither seat sets are held:
    the booking row is locked, then the two slot rows are changed in id order (two moves
    in opposite directions queue instead of deadlocking): the new seats with
    :func:`take_seats`' conditional UPDATE, the old ones released. The booking gets the
    new slot, its partner and times, loses its assigned staff member (the time changed),
    and ``extra_updates``; ``only_if`` adds conditions to the booking's UPDATE (e.g. a
    count under its limit) and a mismatch is :class:`InvalidTransition`. A ``kind``
    timeline entry records both slots; :data:`~bookings.signals.booking_moved` tells the
    other apps (messages, codes, the old slot's waitlist).

    Raises InvalidTransition (409) when the booking is in none of ``from_statuses``, holds
    no seats, or fails ``only_if``; SlotBlocked / SlotUnavailable (409) when ``to_slot``
    is blocked or has fewer free seats than the booking's quantity. Nothing changes then.

    The booking keeps its seat type (``seat_type``: another one on ``to_slot``); the seats
    are taken and released of the right type (:func:`take_seats`, :func:`return_seats`).
    """
    from_statuses = list(from_statuses)
    current = (
        lock(Booking.objects.filter(pk=booking_id))
        .values_list("status", "holds_seats", "slot_id", "quantity", "partner_id", "seat_type")
        .first()
    )
    if current is None or current[0] not in from_statuses or not current[1]:
        raise InvalidTransition(
            f"Booking cannot be moved from {current[0] if current else 'nowhere'}."
        )
    status, _holds, from_slot_id, quantity, from_partner_id, from_seat_type = current
    to_seat_type = seat_type or from_seat_type
    if from_slot_id == to_slot.pk:
        raise ValueError("move_booking needs another slot")

    def take() -> None:
        if not take_seats(slot_id=to_slot.pk, quantity=quantity, seat_type=to_seat_type):
            if Slot.objects.filter(pk=to_slot.pk, blocked=True).exists():
                raise SlotBlocked("The partner has blocked this slot.")
            raise SlotUnavailable(f"The slot does not have {quantity} free seat(s).")

    def release() -> None:
        return_seats(slot_id=from_slot_id, quantity=quantity, seat_type=from_seat_type)

    for step in (take, release) if to_slot.pk < from_slot_id else (release, take):
        step()

    updated = Booking.objects.filter(
        pk=booking_id, status__in=from_statuses, holds_seats=True, **(only_if or {})
    ).update(
        slot=to_slot,
        partner_id=to_slot.partner_id,
        slot_start=to_slot.start,
        slot_end=to_slot.end,
        seat_type=to_seat_type,
        assigned_staff=None,
        updated_at=timezone.now(),
        **(extra_updates or {}),
    )
    if updated != 1:
        # Only ``only_if`` can fail here (the row lock holds the rest); the caller's
        # transaction rolls the seat changes back with this error.
        raise InvalidTransition("The booking cannot be moved.")
    from_slot = Slot.objects.get(pk=from_slot_id)
    record_event(
        booking_id=booking_id,
        from_status=status,
        to_status=status,
        kind=kind,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
        data={
            "from_slot_id": from_slot_id,
            "to_slot_id": to_slot.pk,
            "from_partner_id": from_partner_id,
            "to_partner_id": to_slot.partner_id,
            "from_start": from_slot.start.isoformat(),
            "to_start": to_slot.start.isoformat(),
            **(data or {}),
        },
    )
    booking = Booking.objects.select_related(*RELATED_FOR_RECEIVERS).get(pk=booking_id)
    booking_moved.send(
        sender=Booking,
        booking=booking,
        kind=kind,
        from_slot=from_slot,
        from_partner_id=from_partner_id,
        actor=actor,
        reason=reason,
    )
    return booking, from_slot
