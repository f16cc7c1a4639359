"""Refunds' reactions to payments' events (connected in ``RefundsConfig.ready``)."""

from __future__ import annotations

from django.dispatch import receiver

from bookings.models import Booking
from bookings.signals import booking_created
from payments.models import Payment
from payments.signals import capture_needs_refund
from refunds.models import Refund
from refunds.services.creation import create_refund
from refunds.services.terms import record_refund_terms


@receiver(booking_created, sender=Booking, dispatch_uid="refunds.snapshot_refund_terms")
def snapshot_refund_terms(*, booking: Booking, **kwargs) -> None:
    """A new booking keeps the refund terms in force now (same transaction)."""
    record_refund_terms(booking=booking)


@receiver(capture_needs_refund, sender=Payment, dispatch_uid="refunds.refund_late_capture")
def refund_late_capture(*, payment: Payment, booking, reason: str, **kwargs) -> Refund:
    """A capture that cannot confirm its booking is refunded in full (same transaction)."""
    return create_refund(
        booking=booking,
        payment=payment,
        amount_minor=payment.captured_amount_minor,
        source=Refund.Source.LATE_CAPTURE,
        reason=reason,
        actor=None,
    )
