"""Celery tasks of the outbox: per-message delivery and the periodic sweeps.

All tasks take ids (or nothing), are idempotent and safe to run concurrently; the
claims in ``notifications.delivery`` make every row go out once.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from notifications import delivery
from notifications.models import OutboxMessage

SWEEP_BATCH = 200


@shared_task(name="notifications.tasks.deliver_message")
def deliver_message(message_id: int) -> bool:
    """Deliver one outbox row (enqueued after the commit that wrote it)."""
    return delivery.deliver(message_id)


@shared_task(name="notifications.tasks.dispatch_outbox")
def dispatch_outbox() -> int:
    """Periodic sweep: deliver every due row and reclaim stale claims; returns rows sent.

    Catches rows whose ``deliver_message`` was never enqueued (crash between commit
    and enqueue), rows waiting for a retry, and rows whose worker died mid-send.
    """
    now = timezone.now()
    # A stale claim that already used its last attempt is not retried: mark it failed.
    OutboxMessage.objects.filter(
        status=OutboxMessage.Status.SENDING,
        claimed_at__lt=now - delivery.STALE_CLAIM,
        attempts__gte=delivery.max_attempts(),
    ).update(status=OutboxMessage.Status.FAILED, last_error="worker lost on the last attempt")
    due = list(
        OutboxMessage.objects.filter(delivery.claimable(now))
        .order_by("available_at", "id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(delivery.deliver(message_id) for message_id in due)
