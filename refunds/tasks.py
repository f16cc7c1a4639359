"""Refund tasks: :func:`execute_refund` (defined with its steps in
``refunds.services.execution``, which enqueues it) and the beat sweep below."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from refunds.models import Refund
from refunds.services.execution import (
    REFUND_MAX_ATTEMPTS,
    execute_refund,
    mark_refund_failed,
    retry_delay,
)
from refunds.services.ledger import IN_FLIGHT_STATUSES
from refunds.services.reconciliation import reconcile_payments as run_reconciliation

__all__ = [
    "REFUND_MAX_ATTEMPTS",
    "execute_refund",
    "reconcile_payments",
    "resume_stalled_refunds",
    "retry_delay",
]

REFUND_STALL_MINUTES = settings.REFUND_STALL_MINUTES


@shared_task(acks_late=True)
def resume_stalled_refunds() -> int:
    """Beat sweep: re-enqueue refunds the gateway has not accepted yet that were left in
    flight (the enqueue after commit was lost, or a worker died mid-attempt).

    Safe because ``execute_refund`` claims conditionally and the gateway call carries the
    refund's idempotency key: a refund already made at the gateway is returned, not
    repeated. Only refunds untouched for ``REFUND_STALL_MINUTES`` are picked up; one the
    gateway never accepted after ``2 * REFUND_MAX_ATTEMPTS`` attempts is marked FAILED.
    Refunds the gateway accepted as pending (they have a gateway refund id) are left to
    the refund webhook: sending them again could refund twice once the gateway has
    forgotten the idempotency key.
    """
    cutoff = timezone.now() - timedelta(minutes=REFUND_STALL_MINUTES)
    unsent = Refund.objects.filter(
        status__in=IN_FLIGHT_STATUSES, gateway_refund_id="", updated_at__lt=cutoff
    )
    # Never accepted by the gateway after many runs (e.g. a crash before every answer):
    # stop and show it to support instead of looping forever.
    hopeless = unsent.filter(attempts__gte=2 * REFUND_MAX_ATTEMPTS)
    for refund_id in hopeless.values_list("pk", flat=True):
        mark_refund_failed(
            refund_id=refund_id, error="Gave up: no answer from the gateway after many attempts."
        )
    stalled = list(unsent.values_list("pk", flat=True)[:500])
    for refund_id in stalled:
        execute_refund.delay(refund_id)
    return len(stalled)


@shared_task(acks_late=True)
def reconcile_payments() -> dict[str, int]:
    """Beat job: one reconciliation run (``refunds.services.reconciliation``) over the
    default look-back. Safe to run twice or concurrently: the same finding claims one
    ledger row and is applied once."""
    report = run_reconciliation()
    return {
        action: report.count(action)
        for action in ("applied", "already_applied", "nothing", "flagged", "error")
    }
