"""The refund terms of a booking: the active policy's tiers, copied when it is made.

Cancelling uses the booking's own terms (:func:`refund_terms_of`), so changing the
active :class:`~refunds.models.RefundPolicy` never changes the refund of a booking that
already exists; the booking's representation shows them and what a cancellation would
refund now (:func:`refund_if_cancelled_now`).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from bookings.models import Booking
from payments.models import Payment
from refunds.models import RefundTerms
from refunds.policy import refund_amount, refund_percent
from refunds.selectors import active_refund_policy
from refunds.services.ledger import refundable_amount


def record_refund_terms(*, booking_id: int) -> RefundTerms:
    """Copy the active policy onto the booking (once: a second call returns the first
    copy). Runs in the transaction that creates the booking (``booking_created``)."""
    policy = active_refund_policy()
    terms, _ = RefundTerms.objects.get_or_create(
        booking_id=booking_id,
        defaults={
            "policy_version": policy.version,
            "tiers": policy.tiers,
            "provider_cancel_percent": policy.provider_cancel_percent,
            "unassigned_percent": policy.unassigned_percent,
        },
    )
    return terms


def refund_terms_of(*, booking: Booking) -> RefundTerms:
    """The booking's refund terms. Every booking has them (``book_slot`` records them,
    the migration gave the older ones the policy active then); a row made around
    ``book_slot`` without them is read with the active policy's, unsaved (a read never
    writes)."""
    try:
        return booking.refund_terms
    except RefundTerms.DoesNotExist:
        policy = active_refund_policy()
        return RefundTerms(
            booking_id=booking.pk,
            policy_version=policy.version,
            tiers=policy.tiers,
            provider_cancel_percent=policy.provider_cancel_percent,
            unassigned_percent=policy.unassigned_percent,
        )


def refund_if_cancelled_now(*, booking: Booking, now: datetime | None = None) -> dict:
    """What the customer would get back by cancelling at ``now``: ``{percent, amount}``
    (amount in minor units: the percent of what was captured, never more than is still
    refundable; 0 when nothing was paid). Reads only."""
    terms = refund_terms_of(booking=booking)
    percent = refund_percent(
        policy=terms,
        by="customer",
        staff_assigned=booking.assigned_staff_id is not None,
        now=now or timezone.now(),
        slot_start=booking.slot.start,
    )
    payment = getattr(booking, "payment", None)
    amount = 0
    if isinstance(payment, Payment) and payment.captured_amount_minor > 0:
        amount = min(
            refund_amount(payment.captured_amount_minor, percent),
            refundable_amount(payment=payment),
        )
    return {"percent": percent, "amount": amount}
