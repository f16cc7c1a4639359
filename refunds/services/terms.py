"""The refund terms of a booking: the active policy's tiers, copied when it is made.

Cancelling uses the booking's own terms (:func:`refund_terms_of`), so changing the
active :class:`~refunds.models.RefundPolicy` never changes the refund of a booking that
already exists; the booking's representation shows them and what a cancellation would
refund now (:func:`refund_if_cancelled_now`).
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection
from django.utils import timezone

from bookings.models import Booking
from payments.models import Payment
from refunds.models import RefundPolicy, RefundTerms
from refunds.policy import refund_amount, refund_percent
from refunds.selectors import active_refund_policy
from refunds.services.ledger import refundable_amount

# The active policy copied in the statement that writes the copy (one round trip in the
# booking's transaction); a booking that has its terms keeps them.
_COPY_ACTIVE_POLICY = f"""
    INSERT INTO {RefundTerms._meta.db_table}
        (booking_id, policy_version, tiers, provider_cancel_percent, unassigned_percent,
         created_at)
    SELECT %s, version, tiers, provider_cancel_percent, unassigned_percent, %s
      FROM {RefundPolicy._meta.db_table}
     WHERE active
     ORDER BY version DESC
     LIMIT 1
    ON CONFLICT (booking_id) DO NOTHING
    RETURNING policy_version, tiers, provider_cancel_percent, unassigned_percent
"""  # noqa: S608 - table names from the models; values are parameters


def record_refund_terms(*, booking: Booking) -> RefundTerms:
    """Copy the active policy onto the booking (once: a second call returns the first
    copy). Runs in the transaction that creates the booking (``booking_created``); the
    terms are left on ``booking`` (``booking.refund_terms``), so showing the new booking
    reads nothing again."""
    with connection.cursor() as cursor:
        now = timezone.now()
        cursor.execute(
            _COPY_ACTIVE_POLICY, [booking.pk, connection.ops.adapt_datetimefield_value(now)]
        )
        row = cursor.fetchone()
    if row is not None:
        version, tiers, provider_percent, unassigned_percent = row
        terms = RefundTerms(
            booking_id=booking.pk,
            policy_version=version,
            tiers=json.loads(tiers) if isinstance(tiers, str) else tiers,
            provider_cancel_percent=provider_percent,
            unassigned_percent=unassigned_percent,
            created_at=now,
        )
        booking.refund_terms = terms
        return terms
    terms = _record_refund_terms_slowly(booking_id=booking.pk)
    booking.refund_terms = terms
    return terms


def _record_refund_terms_slowly(*, booking_id: int) -> RefundTerms:
    """No active policy row to copy from (a database without the migrations' data), or
    the booking has its terms already."""
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
        reassigned=booking.reassigned_at is not None,
    )
    payment = getattr(booking, "payment", None)
    amount = 0
    if isinstance(payment, Payment) and payment.captured_amount_minor > 0:
        amount = min(
            refund_amount(payment.captured_amount_minor, percent),
            refundable_amount(payment=payment),
        )
    return {"percent": percent, "amount": amount}
