"""The waitlist follows booking status changes (connected in BookingsConfig.ready).

Runs inside the transaction of the status change (see bookings.signals): it only
updates the offered entry of the booking and registers the promotion for after
commit, so the releasing transaction stays small and a rollback promotes nobody.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from bookings.models import (
    SEAT_HOLDING_STATUSES,
    BookingStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from bookings.signals import booking_status_changed
from bookings.waitlist_tasks import promote_waitlist_task  # registers the tasks too

logger = logging.getLogger(__name__)

# What an offered entry becomes when its booking reaches these states.
ENTRY_STATUS_AFTER = {
    BookingStatus.CONFIRMED: WaitlistStatus.BOOKED,
    BookingStatus.EXPIRED: WaitlistStatus.EXPIRED,
    BookingStatus.PAYMENT_FAILED: WaitlistStatus.EXPIRED,
    BookingStatus.CANCELLED: WaitlistStatus.CANCELLED,
}
RELEASING_STATUSES = (
    BookingStatus.EXPIRED,
    BookingStatus.PAYMENT_FAILED,
    BookingStatus.CANCELLED,
)


@receiver(booking_status_changed, dispatch_uid="bookings.waitlist")
def on_booking_status_changed(*, booking, from_status, to_status, **kwargs) -> None:
    entry_status = ENTRY_STATUS_AFTER.get(to_status)
    if entry_status is not None:
        # A late capture (EXPIRED -> CONFIRMED) still turns the lapsed offer into booked.
        from_entry = [WaitlistStatus.OFFERED]
        if entry_status == WaitlistStatus.BOOKED:
            from_entry.append(WaitlistStatus.EXPIRED)
        WaitlistEntry.objects.filter(offered_booking_id=booking.pk, status__in=from_entry).update(
            status=entry_status, updated_at=timezone.now()
        )

    released = (
        to_status in RELEASING_STATUSES
        and from_status in SEAT_HOLDING_STATUSES
        and not booking.holds_seats
    )
    if not released:
        return
    # join_waitlist locks the slot row, which this transaction has updated: a waiter
    # who joined before us is visible here, one who joins after sees the free seats.
    if not WaitlistEntry.objects.filter(
        slot_id=booking.slot_id, status=WaitlistStatus.WAITING
    ).exists():
        return
    slot_id = booking.slot_id
    # robust: a broker outage must not fail the committed release; the sweep recovers.
    transaction.on_commit(lambda: promote_waitlist_task.delay(slot_id), robust=True)
