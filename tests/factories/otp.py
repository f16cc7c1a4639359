"""Test helpers for the service day: a confirmed booking, and reading codes from messages."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.transitions import transition_booking
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, SlotFactory, StaffFactory

CODE_IN_MESSAGE = re.compile(r"code for booking #(\d+)(?: is|:) (\d{6})")


# The slot of confirmed_booking() starts this soon: inside the arrival window
# (ARRIVAL_WINDOW_MINUTES before the start until the end), so its arrival can be confirmed.
STARTS_IN = timedelta(minutes=30)


def confirmed_booking(
    *, customer=None, partner=None, starts_in: timedelta = STARTS_IN, **kwargs
) -> Booking:
    """A booking moved PENDING_PAYMENT -> CONFIRMED like a payment capture would, on a
    one-hour slot starting ``starts_in`` from now.

    The confirmation's receivers queue the "confirmed" message and the arrival code;
    run the on_commit callbacks (or use a transactional test) to deliver them.
    """
    partner = partner or PartnerFactory()
    extra = {"customer": customer} if customer else {}
    start = timezone.now().replace(second=0, microsecond=0) + starts_in
    slot = SlotFactory(partner=partner, start=start)
    booking = BookingFactory(slot=slot, **extra, **kwargs)
    booking, _ = transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.CONFIRMED,
        actor_label="test-capture",
        reason="payment captured",
    )
    return booking


def staff_of(partner, **kwargs):
    return StaffFactory(partner=partner, **kwargs)


def last_code(messages, *, to: str, booking_id: int) -> str:
    """The code in the newest email (``.to``/``.body``) or SMS (``.to``/``.body``) to ``to``."""
    for message in reversed(messages):
        recipients = message.to if isinstance(message.to, list) else [message.to]
        if to not in recipients:
            continue
        match = CODE_IN_MESSAGE.search(message.body)
        if match and int(match.group(1)) == booking_id:
            return match.group(2)
    raise AssertionError(f"no code for booking {booking_id} sent to {to}")
