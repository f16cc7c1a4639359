"""The "your booking starts soon" reminder, queued once per booking."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.notices import notify_customer
from notifications.messages import Kind

BATCH = 500


def queue_due_reminders() -> int:
    """Queue reminders for confirmed bookings starting within the lead time; returns count.

    Idempotent: each booking's reminder carries the dedupe key ``reminder:<id>``
    (unique in the outbox), so overlapping or repeated runs queue it once.
    """
    now = timezone.now()
    lead = timedelta(minutes=getattr(settings, "BOOKING_REMINDER_MINUTES", 120))
    bookings = (
        Booking.objects.filter(
            status=BookingStatus.CONFIRMED, slot__start__gt=now, slot__start__lte=now + lead
        )
        .exclude(outbox_messages__kind=Kind.BOOKING_REMINDER)
        .select_related("customer", "slot", "partner__city", "variant__service")
        .order_by("slot__start", "id")[:BATCH]
    )
    queued = 0
    for booking in bookings:
        with transaction.atomic():
            if notify_customer(
                kind=Kind.BOOKING_REMINDER, booking=booking, once_key=f"reminder:{booking.pk}"
            ):
                queued += 1
    return queued
