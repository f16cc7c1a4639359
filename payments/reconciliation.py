"""Reconciliation of payments: ask the gateway about payments still open on our side.

Webhooks get lost. A payment that is not captured on our side (CREATED, or FAILED after a
failed attempt) whose booking's hold is near or past its expiry is looked up at its
gateway (Razorpay: the order's payments; Stripe: the Checkout Session and its
PaymentIntent; the sandbox remembers its own), outside any transaction and lock. What the
answer means (a capture, a failure) is applied by :func:`payments.webhooks.apply_gateway_lookup`,
the webhook pipeline itself: the ledger row is marked ``reconciliation``, the late-capture
rules are those of :func:`payments.services.record_capture` (confirm when the seats are
still free, else refund in full), and a webhook arriving later, or a second run, changes
nothing. What no signal settles (a payment only authorised, a second capture of one order)
flags the payment for support, once per finding. A gateway error or an unreadable answer
changes nothing; the next run asks again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from payments.gateways import GatewayError, GatewayLookup, get_gateway
from payments.models import Payment
from payments.services import flag_payment_once, lock_payment
from payments.webhooks import apply_gateway_lookup

logger = logging.getLogger(__name__)

BATCH_LIMIT = 500


@dataclass(frozen=True)
class Finding:
    """What one look-up found and what was done about it (one line of a run's report).

    ``action``: ``applied`` (a ledger row was claimed and applied; ``detail`` is its
    outcome), ``already_applied`` (the same finding was applied before, by another run),
    ``nothing`` (the gateway has nothing to settle yet), ``would_apply`` (dry run),
    ``flagged`` (unsettled, support told) or ``error`` (the look-up failed; nothing
    changed, the next run asks again)."""

    subject: str
    booking_id: int
    action: str
    detail: str = ""


def default_since(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(hours=settings.RECONCILE_LOOKBACK_HOURS)


def open_payments(*, since: datetime, booking_id: int | None = None) -> QuerySet[Payment]:
    """Payments not captured on our side whose booking's hold expires within
    ``RECONCILE_HOLD_MARGIN_MINUTES`` or has expired, created since ``since``; with
    ``booking_id``, that booking's payment whatever its hold and age."""
    payments = Payment.objects.filter(status__in=(Payment.Status.CREATED, Payment.Status.FAILED))
    if booking_id is not None:
        return payments.filter(booking_id=booking_id)
    horizon = timezone.now() + timedelta(minutes=settings.RECONCILE_HOLD_MARGIN_MINUTES)
    return payments.filter(created_at__gte=since, booking__hold_expires_at__lte=horizon).order_by(
        "pk"
    )


def reconcile_open_payments(
    *, since: datetime | None = None, booking_id: int | None = None, dry_run: bool = False
) -> list[Finding]:
    """Look up every payment of :func:`open_payments` and apply what the gateway says
    (see the module docstring). Each payment is its own transaction; no lock is held
    during a gateway call. Safe to run twice and concurrently."""
    since = since or default_since()
    payments = list(open_payments(since=since, booking_id=booking_id)[:BATCH_LIMIT])
    return [reconcile_payment(payment=payment, dry_run=dry_run) for payment in payments]


def reconcile_payment(*, payment: Payment, dry_run: bool = False) -> Finding:
    """Look up one payment's order/session and apply the answer (see the module)."""
    subject = f"order:{payment.order_id}"
    try:
        lookup = get_gateway(payment.gateway).look_up_order(payment=payment)
    except GatewayError as exc:
        logger.warning("reconcile %s: look-up failed: %s", subject, exc)
        return Finding(subject, payment.booking_id, "error", str(exc)[:500])
    return apply_lookup(payment=payment, subject=subject, lookup=lookup, dry_run=dry_run)


def apply_lookup(
    *, payment: Payment, subject: str, lookup: GatewayLookup, dry_run: bool = False
) -> Finding:
    """Apply a look-up's signals through the webhook pipeline, then flag what it leaves
    unsettled (once per finding). A dry run only describes them."""
    described = "; ".join(
        [f"{s.kind} {s.payment_id or s.refund_id} {s.amount_minor}" for s in lookup.signals]
        + list(lookup.unsettled)
    )
    if dry_run:
        action = "would_apply" if lookup.signals or lookup.unsettled else "nothing"
        return Finding(subject, payment.booking_id, action, described)
    finding = Finding(subject, payment.booking_id, "nothing", "")
    if lookup.signals:
        receipt = apply_gateway_lookup(gateway=payment.gateway, subject=subject, lookup=lookup)
        action = "already_applied" if receipt.duplicate else "applied"
        finding = Finding(subject, payment.booking_id, action, receipt.event.detail)
    if lookup.unsettled:
        flag_unsettled(payment_id=payment.pk, reasons=lookup.unsettled, label="reconciliation")
        finding = Finding(subject, payment.booking_id, "flagged", described)
    return finding


@transaction.atomic
def flag_unsettled(*, payment_id: int, reasons: tuple[str, ...] | list[str], label: str) -> None:
    """Flag the payment for support with each reason reconciliation cannot settle, once
    per reason (a later run finding the same thing does not flag it again)."""
    payment = lock_payment(payment_id)
    for reason in reasons:
        flag_payment_once(
            payment=payment, reason=reason, label=label, data={}, finding={"reconcile": reason}
        )
