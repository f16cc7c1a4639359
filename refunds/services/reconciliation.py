"""Reconciliation run: payments still open on our side (``payments.reconciliation``) and
refunds in flight at the gateway, settled through the webhook pipeline.

A refund the gateway accepted (it has a gateway refund id) but has not reported final
waits for a refund webhook; this asks the gateway instead (Razorpay and Stripe: the
refund by id) and applies a final answer as that webhook would (the handlers of
:mod:`refunds.services.gateway_events`), under a ledger row marked ``reconciliation``.
A refund still pending after ``RECONCILE_REFUND_PENDING_HOURS`` is flagged for support.
Refunds the gateway never accepted are the stalled-refund sweep's
(``refunds.tasks.resume_stalled_refunds``), not this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from payments.gateways import GatewayError, get_gateway
from payments.reconciliation import (
    BATCH_LIMIT,
    Finding,
    apply_lookup,
    default_since,
    flag_unsettled,
    reconcile_open_payments,
)
from refunds.models import Refund
from refunds.services.ledger import IN_FLIGHT_STATUSES

logger = logging.getLogger(__name__)


@dataclass
class ReconciliationReport:
    since: datetime
    dry_run: bool
    findings: list[Finding] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for finding in self.findings if finding.action == action)


def reconcile_payments(
    *, since: datetime | None = None, booking_id: int | None = None, dry_run: bool = False
) -> ReconciliationReport:
    """One reconciliation run: open payments first (a capture found may queue a refund),
    then refunds in flight at the gateway. Look-ups run outside any transaction; each
    finding is applied in its own. Idempotent and safe to run concurrently (the ledger's
    unique claim). ``booking_id`` limits the run to one booking, whatever its age and
    hold; ``dry_run`` asks the gateway and changes nothing."""
    since = since or default_since()
    report = ReconciliationReport(since=since, dry_run=dry_run)
    report.findings += reconcile_open_payments(since=since, booking_id=booking_id, dry_run=dry_run)
    report.findings += reconcile_refunds_in_flight(
        since=since, booking_id=booking_id, dry_run=dry_run
    )
    return report


def refunds_in_flight_at_gateway(*, since: datetime, booking_id: int | None = None):
    refunds = (
        Refund.objects.filter(status__in=IN_FLIGHT_STATUSES, payment__isnull=False)
        .exclude(gateway_refund_id="")
        .select_related("payment")
        .order_by("pk")
    )
    if booking_id is not None:
        return refunds.filter(booking_id=booking_id)
    return refunds.filter(created_at__gte=since)


def reconcile_refunds_in_flight(
    *, since: datetime, booking_id: int | None = None, dry_run: bool = False
) -> list[Finding]:
    refunds = list(refunds_in_flight_at_gateway(since=since, booking_id=booking_id)[:BATCH_LIMIT])
    return [reconcile_refund(refund=refund, dry_run=dry_run) for refund in refunds]


def reconcile_refund(*, refund: Refund, dry_run: bool = False) -> Finding:
    """Ask the gateway about one accepted refund and settle it as its webhook would."""
    payment = refund.payment
    subject = f"refund:{refund.gateway_refund_id}"
    try:
        lookup = get_gateway(payment.gateway).look_up_refund(
            payment=payment, gateway_refund_id=refund.gateway_refund_id
        )
    except GatewayError as exc:
        logger.warning("reconcile %s: look-up failed: %s", subject, exc)
        return Finding(subject, refund.booking_id, "error", str(exc)[:500])
    finding = apply_lookup(payment=payment, subject=subject, lookup=lookup, dry_run=dry_run)
    stale = timezone.now() - timedelta(hours=settings.RECONCILE_REFUND_PENDING_HOURS)
    if not lookup.signals and refund.created_at < stale and not dry_run:
        reason = (
            f"Refund #{refund.pk} ({refund.gateway_refund_id}) is still pending at the "
            f"gateway after {settings.RECONCILE_REFUND_PENDING_HOURS} hours."
        )
        flag_unsettled(payment_id=payment.pk, reasons=[reason], label="reconciliation")
        return Finding(subject, refund.booking_id, "flagged", reason)
    return finding
