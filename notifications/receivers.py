"""Reactions to booking status changes (connected in NotificationsConfig.ready).

They run inside the transaction of the status change (see bookings.signals), so they
only write outbox rows; delivery happens after commit.
"""

from __future__ import annotations

from django.dispatch import receiver

from bookings.models import BookingStatus
from bookings.signals import booking_status_changed
from notifications.messages import Kind
from notifications.services import notify


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
        request_code(
            booking=booking,
            purpose=OtpPurpose.COMPLETION,
            recipient=completion_code_recipient(booking),
            enforce_limit=False,
        )
    elif to_status == BookingStatus.CANCELLED:
        notify(kind=Kind.BOOKING_CANCELLED, booking=booking, context={"reason": reason})


def completion_code_recipient(booking):
    """The assigned staff member, or the partner's login when staff has no contact."""
    staff = booking.assigned_staff
    if staff is not None and (staff.email or staff.phone):
        return staff
    return booking.partner.user
