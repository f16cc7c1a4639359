"""Codes follow booking status changes; the dispatcher gets its code issuer.

Imported by ``OtpConfig.ready``. The receiver runs inside the transaction of the status
change (see ``bookings.signals``), so it only writes outbox rows; the code itself is
generated at delivery, after commit, by :func:`otp.services.issue_code_for_message`,
which is registered here with ``notifications`` (a lower layer offering the hook).
"""

from __future__ import annotations

import logging

from django.dispatch import receiver

from bookings.models import BookingStatus
from bookings.signals import booking_moved, booking_status_changed
from notifications.delivery import register_code_issuer
from notifications.messages import OTP_KINDS, Kind
from otp.models import OtpPurpose
from otp.service_day import completion_code_recipient
from otp.services import (
    issue_code_for_message,
    issue_code_for_reminder,
    request_code,
    retire_codes,
)

logger = logging.getLogger(__name__)

for _kind in OTP_KINDS:
    register_code_issuer(
        _kind, issue_code_for_reminder if _kind == Kind.BOOKING_REMINDER else issue_code_for_message
    )


@receiver(booking_status_changed, dispatch_uid="otp.codes_on_status_change")
def send_code_for_next_step(*, booking, from_status, to_status, **kwargs) -> None:
    """CONFIRMED: the customer gets the arrival code. AWAITING_COMPLETION: the assigned
    staff member (else the partner) gets the completion code. System-issued codes are
    not rate-limited but still count towards the limit."""
    if to_status == BookingStatus.CONFIRMED:
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


@receiver(booking_moved, dispatch_uid="otp.new_arrival_code_on_move")
def replace_arrival_code(*, booking, **kwargs) -> None:
    """A confirmed booking that moved (rescheduled, reassigned) gets a new arrival code;
    the old one stops working at once. An unpaid one gets its code on confirmation."""
    if booking.status != BookingStatus.CONFIRMED:
        return
    retire_codes(booking_id=booking.pk, purpose=OtpPurpose.ARRIVAL)
    request_code(
        booking=booking,
        purpose=OtpPurpose.ARRIVAL,
        recipient=booking.customer,
        enforce_limit=False,
    )
