"""The "your booking starts soon" reminder, queued once per booking, with a fresh arrival code.

The arrival code mailed at confirmation expires ``OTP_TTL_MINUTES`` later, and bookings are
made days ahead; so the reminder is a one-time-code message: the code is issued when it is
sent, by the issuer the otp app registers (``notifications.delivery.register_code_issuer``),
and supersedes the earlier one. The customer can still ask for another.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.notices import booking_context
from notifications.messages import OTP_KINDS, Kind
from notifications.services import Recipient, queue_otp_message

BATCH = 500


def queue_due_reminders() -> int:
    """Queue reminders for confirmed bookings starting within the lead time; returns count.

    Idempotent: each booking's reminder carries the dedupe key ``reminder:<id>``
    (unique in the outbox), so overlapping or repeated runs queue it once. A customer
    with neither email nor phone gets none. A booking that is no longer CONFIRMED when
    the reminder is sent gets no code and the reminder is skipped.
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
        recipient = Recipient.of(booking.customer)
        if not (recipient.email or recipient.phone):
            continue
        with transaction.atomic():
            if queue_otp_message(
                booking_id=booking.pk,
                purpose=OTP_KINDS[Kind.BOOKING_REMINDER],
                kind=Kind.BOOKING_REMINDER,
                recipient=recipient,
                context=booking_context(booking),
                once_key=f"reminder:{booking.pk}",
            ):
                queued += 1
    return queued
