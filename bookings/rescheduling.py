"""Rescheduling: the customer moves a booking to another slot of the same partner.

No money moves: the booking keeps its id, amount and payment. The seat swap itself is
:func:`bookings.transitions.move_booking`; this module holds the customer's rules.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bookings.errors import (
    BookingNotFound,
    InvalidTransition,
    OtherPartner,
    RescheduleLimitReached,
    RescheduleWindowClosed,
    SeatTypeNotFound,
    SlotNotFound,
)
from bookings.models import Booking, BookingStatus
from bookings.services import check_bookable, seat_type_of
from bookings.transitions import move_booking
from common.locking import lock
from partners.models import Slot, SlotSeatType

RESCHEDULABLE_STATUSES = (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED)


@transaction.atomic
def reschedule_booking(
    *, customer, booking_id: int, slot_id: int, seat_type: str | None = None
) -> Booking:
    """Move ``customer``'s PENDING_PAYMENT or CONFIRMED booking to another slot of the same
    partner, for the same variant and quantity, and return it.

    One transaction under the booking's row lock: the new seats are taken with the same
    conditional UPDATE as a booking and the old ones released (:func:`move_booking`);
    the assigned staff member is cleared, ``reschedule_count`` goes up (guarded in the
    UPDATE), a ``rescheduled`` timeline entry records both slots, and ``booking_moved``
    brings the customer's email, the partner's ``booking.rescheduled`` webhook, a new
    arrival code (confirmed bookings) and the old slot's waitlist its offer. The slot the
    booking already has changes nothing.

    The booking keeps its seat type on the new slot, or takes ``seat_type``; when the new
    slot has no seat type of the booking's code and none is given, its default one
    (``standard``, or its only type). The amount does not change.

    Allowed until ``RESCHEDULE_CUTOFF_HOURS`` before the current start and at most
    ``RESCHEDULE_MAX_TIMES`` times. Raises BookingNotFound / SlotNotFound (404);
    SlotInPast / OtherPartner / VariantNotOffered / VariantDoesNotFit / SeatTypeNotFound /
    SeatTypeRequired (400);
    InvalidTransition / RescheduleWindowClosed / RescheduleLimitReached /
    PartnerUnavailable / SlotBlocked / SlotUnavailable (409). Nothing changes on error.
    """
    booking = lock(Booking.objects.filter(pk=booking_id, customer=customer)).first()
    if booking is None:
        raise BookingNotFound()
    slot = Slot.objects.select_related("partner").filter(pk=slot_id).first()
    if slot is None:
        raise SlotNotFound(errors={"slot_id": ["No such slot."]})
    if booking.status not in RESCHEDULABLE_STATUSES:
        raise InvalidTransition(f"A {booking.status} booking cannot be rescheduled.")
    if slot.pk == booking.slot_id:
        return booking
    now = timezone.now()
    cutoff = timedelta(hours=settings.RESCHEDULE_CUTOFF_HOURS)
    if booking.slot_start - now < cutoff:
        raise RescheduleWindowClosed(
            f"Bookings can be rescheduled until {settings.RESCHEDULE_CUTOFF_HOURS} h "
            "before they start."
        )
    limit = settings.RESCHEDULE_MAX_TIMES
    if booking.reschedule_count >= limit:
        raise RescheduleLimitReached(f"A booking can be rescheduled at most {limit} time(s).")
    if slot.partner_id != booking.partner_id:
        raise OtherPartner(
            "Choose a slot of the booking's partner.",
            errors={"slot_id": ["A slot of another partner."]},
        )
    check_bookable(slot=slot, variant_id=booking.variant_id, now=now)
    seat = _seat_type_on(slot=slot, booking=booking, code=seat_type)
    booking, _from_slot = move_booking(
        booking_id=booking.pk,
        from_statuses=RESCHEDULABLE_STATUSES,
        to_slot=slot,
        kind="rescheduled",
        actor=customer,
        reason="Rescheduled by the customer.",
        extra_updates={"reschedule_count": F("reschedule_count") + 1},
        only_if={"reschedule_count__lt": limit},
        seat_type=seat.code,
    )
    return booking


def _seat_type_on(*, slot: Slot, booking: Booking, code: str | None) -> SlotSeatType:
    if code is None:
        try:
            return seat_type_of(slot_id=slot.pk, code=booking.seat_type)
        except SeatTypeNotFound:
            pass  # the new slot sells other seats: its default type
    return seat_type_of(slot_id=slot.pk, code=code)
