"""Waitlist of full slots: join, leave, and automatic promotion when seats come free.

Line order is the entry id (join order). Promotion runs after the releasing
transaction committed (``payments.receivers`` -> ``payments.tasks``):
:func:`promote_waitlist` locks the slot row, so promotions of one slot are serialised
and each sees the seats the previous one took; the first waiting entries whose
quantity fits the free seats each get a PENDING_PAYMENT booking through
:func:`bookings.services.book_slot` (same seat UPDATE, price and hold as a normal
booking). A waiting entry that does not fit is skipped, not dropped: it keeps its
place for the next release. Then, outside any transaction,
``payments.waitlist_offers.start_offer`` creates the payment and tells the customer.
The entry follows its booking afterwards (``bookings.waitlist.receivers``): paid ->
booked, hold expired / payment failed -> expired (and the freed seats go to the next in
line), cancelled -> cancelled.
"""

from __future__ import annotations

import logging
from functools import reduce
from operator import or_

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from bookings.errors import (
    AlreadyWaitlisted,
    NotWaiting,
    SeatTypeNotFound,
    SlotHasRoom,
    SlotNotFound,
    SlotUnavailable,
    VariantDoesNotFit,
    VariantNotOffered,
    WaitlistEntryNotFound,
)
from bookings.models import Booking, WaitlistEntry, WaitlistStatus
from bookings.services import book_slot, check_bookable, seat_type_of
from bookings.transitions import record_event
from common.locking import lock
from partners.models import Slot, SlotSeatType

logger = logging.getLogger(__name__)


@transaction.atomic
def join_waitlist(
    *, customer, slot_id: int, variant_id: int, quantity: int = 1, seat_type: str | None = None
) -> WaitlistEntry:
    """Put ``customer`` in line for ``quantity`` seats of a seat type of a full slot (the
    line is per seat type; ``seat_type`` None: ``standard``, or the slot's only type).

    The slot row is locked while the rule "no room for ``quantity``" is checked and
    the entry inserted, so a release that commits meanwhile either happens first
    (-> SlotHasRoom) or sees the new entry and promotes it.

    Raises SlotNotFound (404), SlotInPast / VariantNotOffered / VariantDoesNotFit /
    SeatTypeNotFound / SeatTypeRequired (400),
    PartnerUnavailable / SlotBlocked (409), SlotHasRoom (409) when the seats can be
    booked now, AlreadyWaitlisted (409) when the customer has a waiting or offered entry
    on the slot. Nothing is written when it raises.
    """
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    slot = lock(Slot.objects.select_related("partner").filter(pk=slot_id)).first()
    if slot is None:
        raise SlotNotFound(errors={"slot_id": ["No such slot."]})
    variant = check_bookable(slot=slot, variant_id=variant_id, now=timezone.now())
    seat = seat_type_of(slot_id=slot.pk, code=seat_type)  # read under the slot's lock
    if seat.capacity - seat.booked >= quantity:
        raise SlotHasRoom(f"The slot has {quantity} free {seat.code} seat(s): book it instead.")
    try:
        with transaction.atomic():  # savepoint: the unique violation must not poison ours
            return WaitlistEntry.objects.create(
                slot=slot,
                customer=customer,
                variant=variant,
                quantity=quantity,
                seat_type=seat.code,
            )
    except IntegrityError:
        raise AlreadyWaitlisted(
            "You already have a waiting or offered entry on this slot."
        ) from None


def leave_waitlist(*, customer, entry_id: int) -> WaitlistEntry:
    """Take ``customer``'s waiting entry out of the line (status cancelled).

    A conditional UPDATE, so it cannot race a promotion into a lost offer. Leaving an
    entry that is already cancelled is a no-op. Raises WaitlistEntryNotFound (404) for
    an unknown or another customer's entry, NotWaiting (409) when it was offered a
    booking (pay or cancel that booking instead) or is closed.
    """
    entries = WaitlistEntry.objects.filter(pk=entry_id, customer=customer)
    left = entries.filter(status=WaitlistStatus.WAITING).update(
        status=WaitlistStatus.CANCELLED, updated_at=timezone.now()
    )
    entry = entries.first()
    if entry is None:
        raise WaitlistEntryNotFound()
    if not left and entry.status != WaitlistStatus.CANCELLED:
        detail = f"The entry is {entry.status}."
        if entry.status == WaitlistStatus.OFFERED:
            detail += f" Pay or cancel booking #{entry.offered_booking_id} instead."
        raise NotWaiting(detail)
    return entry


@transaction.atomic
def promote_waitlist(*, slot_id: int) -> list[int]:
    """Offer the free seats of a slot to the first waiting entries whose quantity fits
    the free seats of their seat type (the line is per seat type).

    Guarantees: the slot row is locked for the whole promotion, so concurrent
    promotions of one slot run one after the other and never offer one entry twice;
    seats are taken by :func:`book_slot`'s conditional UPDATE (never oversold); each
    offered entry becomes ``offered`` with its PENDING_PAYMENT booking in the same
    transaction. Waiting entries of a slot that already started are expired; entries
    whose variant is no longer offered or no longer fits the slot are expired; a blocked
    slot or an unavailable partner offers nothing. Returns the ids of the bookings
    created; call :func:`start_offer` for each after commit (the task does).
    """
    slot = lock(Slot.objects.select_related("partner").filter(pk=slot_id)).first()
    if slot is None:
        return []
    waiting = WaitlistEntry.objects.filter(slot_id=slot_id, status=WaitlistStatus.WAITING)
    now = timezone.now()
    if slot.start <= now:
        waiting.update(status=WaitlistStatus.EXPIRED, updated_at=now)
        return []
    if slot.blocked or not (slot.partner.active and slot.partner.verified):
        return []
    # Free seats per seat type (exact: every seat writer takes the slot's row first).
    free = {
        code: capacity - booked
        for code, capacity, booked in SlotSeatType.objects.filter(slot_id=slot_id).values_list(
            "code", "capacity", "booked"
        )
    }
    offered: list[int] = []
    passed: list[int] = []  # entries whose variant is gone (expired by _offer_booking)
    while any(seats > 0 for seats in free.values()):
        fits = reduce(
            or_,
            (Q(seat_type=code, quantity__lte=seats) for code, seats in free.items() if seats > 0),
        )
        # The first waiting entry that fits its type; skip_locked: an entry being left
        # right now is passed over rather than waited for.
        entry = (
            lock(waiting.filter(fits).exclude(pk__in=passed), skip_locked=True)
            .select_related("customer")
            .order_by("id")
            .first()
        )
        if entry is None:
            break
        booking = _offer_booking(entry=entry, now=now)
        if booking is None:
            passed.append(entry.pk)
            continue
        offered.append(booking.pk)
        free[entry.seat_type] -= entry.quantity
    return offered


def _offer_booking(*, entry: WaitlistEntry, now) -> Booking | None:
    try:
        booking = book_slot(
            customer=entry.customer,
            slot_id=entry.slot_id,
            variant_id=entry.variant_id,
            quantity=entry.quantity,
            seat_type=entry.seat_type,
            # An offer the customer waited for: not refused by the unpaid cap, and not
            # counted, so the customer's count is never locked while the slot row is
            # (book_slot takes the count before the slot).
            enforce_pending_limit=False,
        )
    except (VariantNotOffered, VariantDoesNotFit, SeatTypeNotFound):
        WaitlistEntry.objects.filter(pk=entry.pk).update(
            status=WaitlistStatus.EXPIRED, updated_at=now
        )
        return None
    except SlotUnavailable:  # pragma: no cover - the slot lock makes the count exact
        return None
    WaitlistEntry.objects.filter(pk=entry.pk).update(
        status=WaitlistStatus.OFFERED,
        offered_booking=booking,
        offered_at=now,
        offer_expires_at=booking.hold_expires_at,
        updated_at=now,
    )
    record_event(
        booking_id=booking.pk,
        kind="waitlist_offer",
        actor_label="system",
        reason="Seats offered from the waitlist.",
        data={"waitlist_entry_id": entry.pk},
    )
    return booking


def expire_started_entries() -> int:
    """Waiting entries of slots that already started -> expired; returns how many."""
    now = timezone.now()
    return WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, slot__start__lte=now).update(
        status=WaitlistStatus.EXPIRED, updated_at=now
    )


def slots_to_promote() -> list[int]:
    """Open slots with a free seat and someone waiting (the recovery sweep's work list)."""
    now = timezone.now()
    return list(
        WaitlistEntry.objects.filter(
            status=WaitlistStatus.WAITING,
            slot__start__gt=now,
            slot__blocked=False,
            slot__booked__lt=F("slot__capacity"),
        )
        .order_by("slot_id")
        .values_list("slot_id", flat=True)
        .distinct()
    )
