"""Reactions to booking status changes (connected in NotificationsConfig.ready).

They run inside the transaction of the status change (see bookings.signals), so they
only write outbox rows; delivery happens after commit.
"""

from __future__ import annotations

import logging

from django.dispatch import receiver

from bookings.models import BookingStatus
from bookings.signals import booking_status_changed
from notifications.messages import Kind
from notifications.services import notify
from notifications.webhooks import queue_partner_webhook

logger = logging.getLogger(__name__)


@receiver(booking_status_changed, dispatch_uid="notifications.booking_status_changed")
def on_booking_status_changed(*, booking, from_status, to_status, reason="", **kwargs) -> None:
    from otp.models import OtpPurpose
    from otp.services import request_code

    if to_status == BookingStatus.CONFIRMED:
        notify(kind=Kind.BOOKING_CONFIRMED, booking=booking)
        request_code(
            booking=booking,
            purpose=OtpPurpose.ARRIVAL,
            recipient=booking.customer,
            enforce_limit=False,
        )
    elif to_status == BookingStatus.AWAITING_COMPLETION:
        recipient = completion_code_recipient(booking)
        if recipient is None:
            # Not fatal for the transition: the partner can add contact details and
            # call mark-complete again to send the code.
            logger.warning("booking %s: no contact for the completion code", booking.pk)
            return
        request_code(
            booking=booking,
            purpose=OtpPurpose.COMPLETION,
            recipient=recipient,
            enforce_limit=False,
        )
    elif to_status == BookingStatus.CANCELLED:
        notify(kind=Kind.BOOKING_CANCELLED, booking=booking, context={"reason": reason})


@receiver(booking_status_changed, dispatch_uid="notifications.partner_webhook")
def queue_partner_webhook_on_status_change(*, booking, from_status, to_status, **kwargs) -> None:
    queue_partner_webhook(booking=booking, from_status=from_status, to_status=to_status)


def completion_code_recipient(booking):
    """The assigned staff member, else the partner's login; None when nobody is reachable."""
    for person in (booking.assigned_staff, booking.partner.user):
        if person is not None and (person.email or person.phone):
            return person
    return None
