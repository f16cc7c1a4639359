"""Waitlist offers: the payment and the message of a booking promoted from the waitlist.

``bookings.waitlist.services.promote_waitlist`` takes the freed seats for the first in
line and creates their PENDING_PAYMENT bookings in one transaction; here, after that
commit and outside any transaction, each offer gets its payment (the same
:func:`~payments.orders.start_payment` as a normal booking) and the customer a
message with the link to pay.
"""

from __future__ import annotations

import logging
from datetime import UTC

from bookings.models import Booking, BookingStatus
from bookings.notices import booking_context, notify_customer
from bookings.waitlist.services import (
    expire_started_entries,
    promote_waitlist,
    slots_to_promote,
)
from common.links import public_url
from common.problems import DomainError
from notifications.messages import Kind
from payments.models import Payment
from payments.orders import checkout_link, start_payment

logger = logging.getLogger(__name__)

OFFER_NOTIFICATION_KIND = Kind.WAITLIST_OFFER


def start_offer(*, booking_id: int) -> Payment | None:
    """Create the payment of an offered booking and tell the customer (after commit).

    Idempotent: the payment is per booking (:func:`start_payment`) and the message is
    written once per booking. A booking that already left PENDING_PAYMENT is skipped.
    When the gateway cannot create the order the booking is left as it is: its hold
    runs out and the seats go to the next in line. Returns the payment or None.
    """
    booking = (
        Booking.objects.select_related("customer", "slot", "partner__city", "variant__service")
        .filter(pk=booking_id, status=BookingStatus.PENDING_PAYMENT)
        .first()
    )
    if booking is None:
        return None
    try:
        payment = start_payment(booking=booking, gateway=None)
    except DomainError as exc:
        logger.warning("waitlist offer %s: payment could not be started: %s", booking_id, exc)
        return None
    link = checkout_link(payment) or public_url(f"/api/v1/bookings/{booking.pk}")
    about = booking_context(booking)
    until = booking.hold_expires_at.astimezone(UTC)
    notify_customer(
        kind=OFFER_NOTIFICATION_KIND,
        booking=booking,
        once_key=f"waitlist_offer:{booking.pk}",
        context={
            "subject": f"A seat is free: booking #{booking.pk} is held for you",
            "message": (
                f"Seats came free on the slot you were waiting for: {about['service']} with "
                f"{about['partner']} on {about['start']}. Booking #{booking.pk} holds them "
                f"for you until {until:%Y-%m-%d %H:%M} UTC. Pay here: {link}"
            ),
        },
    )
    return payment


def promote_and_offer(*, slot_id: int) -> list[int]:
    """Promote the slot's waitlist, then start each offer outside the transaction."""
    booking_ids = promote_waitlist(slot_id=slot_id)
    for booking_id in booking_ids:
        try:
            start_offer(booking_id=booking_id)
        except Exception:  # one broken offer must not keep the others from starting
            logger.exception("waitlist offer %s could not be started", booking_id)
    return booking_ids


def sweep_waitlists() -> list[int]:
    """Recovery sweep: expire the waiting entries of slots that started, then promote
    every open slot that has waiting entries and a free seat (covers a promotion whose
    enqueue was lost after commit). Idempotent. Returns the offered booking ids."""
    expire_started_entries()
    offered: list[int] = []
    for slot_id in slots_to_promote():
        offered += promote_and_offer(slot_id=slot_id)
    return offered
