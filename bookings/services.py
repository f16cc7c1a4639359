"""Booking operations: take seats and create the booking, expire unpaid holds.

Status changes go through :mod:`bookings.transitions` only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings import pending, seats
from bookings.errors import (
    InvalidTransition,
    PartnerUnavailable,
    SeatTypeNotFound,
    SeatTypeRequired,
    SlotBlocked,
    SlotInPast,
    SlotNotFound,
    SlotUnavailable,
    TooManyPendingBookings,
    VariantDoesNotFit,
    VariantNotOffered,
)
from bookings.models import Booking, BookingStatus
from bookings.signals import booking_created
from bookings.transitions import record_event, take_seats, transition_booking
from common.locking import lock
from partners.models import STANDARD_SEAT_TYPE, ServiceVariant, Slot, SlotSeatType
from partners.selectors import bookable_offerings

logger = logging.getLogger(__name__)


def _offered_variant(*, slot: Slot, variant_id: int) -> ServiceVariant:
    # ``offering``: the partner's active offering of it, whose price the booking takes.
    offering = (
        bookable_offerings()
        .filter(partner_id=slot.partner_id, variant_id=variant_id)
        .select_related("variant")
        .first()
    )
    variant = offering.variant if offering is not None else None
    if variant is not None:
        variant.offering = offering
    if variant is None:
        raise VariantNotOffered(
            "The partner of this slot does not offer this service variant.",
            errors={"variant_id": ["Not offered by the partner of this slot."]},
        )
    return variant


def bookable_variant(*, slot: Slot, variant_id: int) -> ServiceVariant:
    """The variant, if the slot's partner offers it (an active offering, left on the
    variant as ``variant.offering``) and it fits in the slot.

    Raises VariantNotOffered (400), or VariantDoesNotFit (400) when its
    ``duration_minutes`` is longer than the slot (``end - start``).
    """
    variant = _offered_variant(slot=slot, variant_id=variant_id)
    slot_minutes = (slot.end - slot.start).total_seconds() / 60
    if variant.duration_minutes > slot_minutes:
        raise VariantDoesNotFit(
            f"The variant takes {variant.duration_minutes} minutes; "
            f"the slot is {slot_minutes:g} minutes long.",
            errors={"variant_id": ["Longer than the slot."]},
        )
    return variant


def _count_pending(*, customer) -> None:
    """Count the new unpaid booking of ``customer``; refuse one beyond
    ``MAX_PENDING_BOOKINGS`` with :class:`TooManyPendingBookings`."""
    cap = settings.MAX_PENDING_BOOKINGS
    if not pending.add_pending(customer_id=customer.pk, cap=cap):
        raise TooManyPendingBookings(
            f"You already have {cap} unpaid booking(s); pay or cancel one first (at most {cap})."
        )


def check_bookable(*, slot: Slot, variant_id: int, now) -> ServiceVariant:
    """The variant when the rules allow booking it on ``slot`` (its partner loaded), else
    the first rule broken, as its error, in this order: SlotInPast, PartnerUnavailable,
    SlotBlocked, then :func:`bookable_variant`'s. Booking, joining a waitlist and
    rescheduling all ask these rules."""
    if slot.start <= now:
        raise SlotInPast("The slot has already started.")
    if not (slot.partner.active and slot.partner.verified):
        raise PartnerUnavailable("The partner of this slot is not taking bookings.")
    if slot.blocked:
        raise SlotBlocked("The partner has blocked this slot.")
    return bookable_variant(slot=slot, variant_id=variant_id)


def seat_type_of(*, slot_id: int, code: str | None) -> SlotSeatType:
    """The slot's seat type ``code``; without a code its ``standard`` type, or its only
    one. Raises SeatTypeNotFound (400) for a code the slot does not have, SeatTypeRequired
    (400) when no code is given and the slot has several types and none is standard."""
    seat_types = list(SlotSeatType.objects.filter(slot_id=slot_id))
    if code is not None:
        chosen = [seat for seat in seat_types if seat.code == code]
    elif len(seat_types) == 1:
        chosen = seat_types
    else:
        chosen = [seat for seat in seat_types if seat.code == STANDARD_SEAT_TYPE]
    if chosen:
        return chosen[0]
    codes = ", ".join(seat.code for seat in seat_types)
    if code is None:
        raise SeatTypeRequired(
            f"The slot has several seat types ({codes}): choose one.",
            errors={"seat_type": [f"One of: {codes}."]},
        )
    raise SeatTypeNotFound(
        f"The slot has no seat type {code!r} (it has {codes}).",
        errors={"seat_type": [f"One of: {codes}."]},
    )


def _checked_slot(
    *, slot_id: int, variant_id: int, now, seat_type: str | None = None
) -> tuple[Slot, ServiceVariant, SlotSeatType]:
    """The slot, variant and seat type when the rules allow booking them, else the first
    rule broken, as its error (the order of the checks is the order of the errors)."""
    slot = Slot.objects.select_related("partner").filter(pk=slot_id).first()
    if slot is None:
        raise SlotNotFound(errors={"slot_id": ["No such slot."]})
    variant = check_bookable(slot=slot, variant_id=variant_id, now=now)
    return slot, variant, seat_type_of(slot_id=slot_id, code=seat_type)


def _take_bookable_seats(
    *, slot_id: int, variant_id: int, quantity: int, now, seat_type: str | None
) -> tuple[Slot, int, str, str]:
    """Take the seats of the seat type when every rule of :func:`book_slot` holds; returns
    the slot (as updated), the price per seat (the seat type's own, else the partner's
    offering of the variant), its currency and the seat type's code. Raises the first rule
    broken.

    On PostgreSQL the happy path is one statement: the conditional seat UPDATE also checks
    the slot, its partner and the variant, and returns what the booking needs
    (:data:`bookings.seats.TAKE_BOOKABLE_SEATS`). Only when it takes nothing are the rules
    checked one by one to name the refusal; all of them holding means the seats ran out.
    Elsewhere (the embedded SQLite default) the rules are checked first, then
    :func:`take_seats`.
    """
    if seats.one_statement_available():
        taken = seats.take_bookable_seats(
            slot_id=slot_id, variant_id=variant_id, quantity=quantity, now=now, seat_type=seat_type
        )
        if taken is not None:
            return taken
        # The caller's transaction rolls back with the error (the slot's seats may be taken).
        _checked_slot(slot_id=slot_id, variant_id=variant_id, now=now, seat_type=seat_type)
        raise _no_room(quantity=quantity, seat_type=seat_type)
    slot, variant, seat = _checked_slot(
        slot_id=slot_id, variant_id=variant_id, now=now, seat_type=seat_type
    )
    if not take_seats(slot_id=slot.pk, quantity=quantity, seat_type=seat.code):
        raise _no_room(quantity=quantity, seat_type=seat.code)
    slot.booked += quantity
    price = seat.price_minor or variant.offering.price_minor
    return slot, price, variant.offering.currency, seat.code


def _no_room(*, quantity: int, seat_type: str | None) -> SlotUnavailable:
    of_type = f" of type {seat_type}" if seat_type else ""
    return SlotUnavailable(f"The slot does not have {quantity} free seat(s){of_type}.")


def book_slot(
    *,
    customer,
    slot_id: int,
    variant_id: int,
    quantity: int = 1,
    enforce_pending_limit: bool = True,
    before_commit: Callable[[Booking], None] | None = None,
    seat_type: str | None = None,
) -> Booking:
    """Hold ``quantity`` seats of a slot for ``customer`` and create the booking.

    One transaction: the seats are taken with a single conditional UPDATE, so concurrent
    callers can never oversell; the booking is created in PENDING_PAYMENT with
    ``hold_expires_at = now + BOOKING_HOLD_MINUTES`` and amount = the partner's price of
    the variant now (its offering) x quantity, stored on the booking so later price
    changes never touch it, and the timeline gets a ``created`` event;
    :data:`bookings.signals.booking_created` lets higher layers record, in the same
    transaction, what the booking is made under (refunds: its refund terms).
    ``before_commit(booking)``, when
    given, runs last inside that transaction (checkout stores the payment and the
    request's Idempotency-Key there); whatever it raises rolls everything back.

    The booking comes back with ``slot`` (as updated) and ``created_event`` (the timeline
    entry) in hand, so it can be shown without reading it again
    (:func:`bookings.serializers.new_booking_data`).

    A customer holds at most ``MAX_PENDING_BOOKINGS`` unpaid bookings at once
    (``enforce_pending_limit``; a waitlist offer, made by the system while the slot row
    is locked, is neither refused nor counted, so it never waits on the customer's count).

    Seats are of one seat type of the slot (``seat_type``; None: ``standard``, or the
    slot's only type), taken by the same statement, whose own price (if any) replaces
    the offering's; the booking keeps the type.

    Raises SlotNotFound (404), SlotInPast / VariantNotOffered / VariantDoesNotFit /
    SeatTypeNotFound / SeatTypeRequired (400), PartnerUnavailable / SlotBlocked / SlotUnavailable /
    TooManyPendingBookings (409). Nothing is written when it raises.
    """
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    with transaction.atomic():
        now = timezone.now()
        if enforce_pending_limit:
            _count_pending(customer=customer)
        slot, price_minor, currency, seat_code = _take_bookable_seats(
            slot_id=slot_id, variant_id=variant_id, quantity=quantity, now=now, seat_type=seat_type
        )
        booking = Booking.objects.create(
            customer=customer,
            slot=slot,
            slot_start=slot.start,
            slot_end=slot.end,
            partner_id=slot.partner_id,
            variant_id=variant_id,
            seat_type=seat_code,
            quantity=quantity,
            amount_minor=price_minor * quantity,
            currency=currency,
            status=BookingStatus.PENDING_PAYMENT,
            holds_seats=True,
            counts_as_pending=enforce_pending_limit,
            hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
        )
        booking.created_event = record_event(
            booking_id=booking.pk,
            to_status=BookingStatus.PENDING_PAYMENT,
            kind="created",
            actor=customer,
            reason="Booked by the customer.",
            data={
                "quantity": quantity,
                "seat_type": seat_code,
                "amount": booking.amount_minor,
                "currency": currency,
            },
        )
        # Higher layers record what the booking is made under (refunds: its terms).
        booking_created.send(sender=Booking, booking=booking)
        if before_commit is not None:
            before_commit(booking)
    return booking


def abandon_booking(*, booking_id: int, reason: str) -> None:
    """Cancel a PENDING_PAYMENT booking whose payment could not be started.

    Releases its seats exactly once; a booking that already left PENDING_PAYMENT is
    left alone (no error).
    """
    try:
        transition_booking(
            booking_id=booking_id,
            from_statuses=[BookingStatus.PENDING_PAYMENT],
            to_status=BookingStatus.CANCELLED,
            actor_label="system",
            reason=reason,
            release_seats=True,
        )
    except InvalidTransition:
        logger.info("booking %s left PENDING_PAYMENT before it could be abandoned", booking_id)


def expire_booking_hold(*, booking_id: int) -> bool:
    """Expire one unpaid booking whose hold has run out, releasing its seats.

    Idempotent and safe under concurrency: the move is a conditional UPDATE
    (PENDING_PAYMENT -> EXPIRED) under the booking's row lock, so when two workers
    race exactly one of them expires it and releases the seats. Returns True when
    this call expired it, False when the booking was paid, cancelled, already
    expired, or its hold has not run out.
    """
    with transaction.atomic():
        still_due = (
            lock(
                Booking.objects.filter(
                    pk=booking_id,
                    status=BookingStatus.PENDING_PAYMENT,
                    hold_expires_at__lt=timezone.now(),
                )
            )
            .values_list("pk", flat=True)
            .first()
        )
        if still_due is None:
            return False
        try:
            transition_booking(
                booking_id=booking_id,
                from_statuses=[BookingStatus.PENDING_PAYMENT],
                to_status=BookingStatus.EXPIRED,
                actor_label="system",
                reason="Payment hold expired.",
                release_seats=True,
            )
        except InvalidTransition:  # pragma: no cover - guarded by the lock above
            return False
    return True


def expire_due_holds(*, batch_size: int = 500) -> int:
    """Expire every PENDING_PAYMENT booking whose hold ran out; returns how many this call
    expired (others may have been expired by a concurrent run, which is fine).

    Each booking is expired in its own short transaction, so a long backlog never holds
    many row locks at once.
    """
    expired = 0
    cutoff = timezone.now()
    last_id = 0
    while True:
        # Keyset pagination by id over the partial index of pending holds.
        due_ids = list(
            Booking.objects.filter(
                status=BookingStatus.PENDING_PAYMENT, hold_expires_at__lt=cutoff, pk__gt=last_id
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        for booking_id in due_ids:
            if expire_booking_hold(booking_id=booking_id):
                expired += 1
        if len(due_ids) < batch_size:
            return expired
        last_id = due_ids[-1]
