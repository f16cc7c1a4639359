"""Reassignment: when a partner cancels a confirmed booking, another partner takes it.

The replacement is ranked like ``partners/assign`` (:func:`bookings.selectors.
assignment_candidates`); the seat swap is :func:`bookings.transitions.move_booking`.
``refunds.cancellation.cancel_booking`` tries this before cancelling with a refund.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from bookings.errors import SlotBlocked, SlotUnavailable
from bookings.models import Booking, BookingStatus
from bookings.selectors import assignment_candidates
from bookings.transitions import move_booking
from common.locking import lock
from partners.models import Slot, SlotSeatType

logger = logging.getLogger(__name__)

# Candidates tried before giving up (each taken by someone else meanwhile is skipped).
MAX_ATTEMPTS = 5


def replacement_slots(*, booking: Booking) -> QuerySet[Slot]:
    """Free slots of other active, verified partners of the booking's city that offer its
    service, that the variant fits in, with room for its quantity, starting within
    ``REASSIGN_WINDOW_MINUTES`` of its start (inclusive; 0: the same instant), with room
    for it in a seat type of the booking's code (the booking keeps its type), best first
    by the assignment ranking."""
    window = timedelta(minutes=settings.REASSIGN_WINDOW_MINUTES)
    return (
        assignment_candidates(
            city=booking.partner.city,
            service=booking.variant.service,
            variant=booking.variant,
            start_from=booking.slot_start - window,
            start_to=booking.slot_start + window,
        )
        .exclude(partner_id=booking.partner_id)
        .filter(booked__lte=F("capacity") - booking.quantity)
        .filter(
            Exists(
                SlotSeatType.objects.filter(
                    slot_id=OuterRef("pk"),
                    code=booking.seat_type,
                    booked__lte=F("capacity") - booking.quantity,
                )
            )
        )
    )


@transaction.atomic
def reassign_booking(*, booking_id: int, actor, reason: str) -> Booking | None:
    """Move a CONFIRMED booking to the best replacement slot (:func:`replacement_slots`);
    the moved booking, or None when it is not CONFIRMED or no replacement is free.

    Under the booking's row lock; each candidate is tried in a savepoint with the seat
    swap of :func:`move_booking`, so concurrent reassignments never put two bookings on
    one seat: a candidate taken meanwhile is skipped for the next. The booking keeps its
    status, amount and payment, gets ``reassigned_at`` and a ``reassigned`` timeline entry;
    ``booking_moved`` brings both partners their webhooks and the customer an email.
    """
    booking = (
        lock(Booking.objects.filter(pk=booking_id))
        .select_related("partner__city", "variant__service")
        .first()
    )
    if booking is None or booking.status != BookingStatus.CONFIRMED or not booking.holds_seats:
        return None
    for slot in replacement_slots(booking=booking)[:MAX_ATTEMPTS]:
        try:
            with transaction.atomic():
                moved, _from_slot = move_booking(
                    booking_id=booking.pk,
                    from_statuses=[BookingStatus.CONFIRMED],
                    to_slot=slot,
                    kind="reassigned",
                    actor=actor,
                    reason=f"Partner cancelled: {reason}" if reason else "Partner cancelled.",
                    extra_updates={"reassigned_at": timezone.now()},
                )
        except (SlotUnavailable, SlotBlocked):
            logger.info("booking %s: replacement slot %s was taken", booking.pk, slot.pk)
            continue
        return moved
    return None
