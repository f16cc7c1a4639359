"""Waitlist entries follow their offered bookings (connected in ``BookingsConfig.ready``).

Runs inside the transaction of the status change (see ``bookings.signals``): it only
updates the offered entry of the booking. Promoting the next in line when seats come
free is ``payments.receivers`` (an offer needs a payment).
"""

from __future__ import annotations

from django.dispatch import receiver
from django.utils import timezone

from bookings.models import BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.signals import booking_status_changed

# What an offered entry becomes when its booking reaches these states.
ENTRY_STATUS_AFTER = {
    BookingStatus.CONFIRMED: WaitlistStatus.BOOKED,
    BookingStatus.EXPIRED: WaitlistStatus.EXPIRED,
    BookingStatus.PAYMENT_FAILED: WaitlistStatus.EXPIRED,
    BookingStatus.CANCELLED: WaitlistStatus.CANCELLED,
}


@receiver(booking_status_changed, dispatch_uid="bookings.waitlist")
def follow_offered_booking(*, booking, from_status, to_status, **kwargs) -> None:
    entry_status = ENTRY_STATUS_AFTER.get(to_status)
    if entry_status is not None:
        # A late capture (EXPIRED -> CONFIRMED) still turns the lapsed offer into booked.
        from_entry = [WaitlistStatus.OFFERED]
        if entry_status == WaitlistStatus.BOOKED:
            from_entry.append(WaitlistStatus.EXPIRED)
        WaitlistEntry.objects.filter(offered_booking_id=booking.pk, status__in=from_entry).update(
            status=entry_status, updated_at=timezone.now()
        )
