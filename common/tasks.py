from celery import shared_task
from django.utils import timezone

from common.models import IdempotencyKey


@shared_task(name="common.tasks.purge_expired_idempotency_keys")
def purge_expired_idempotency_keys() -> int:
    """Delete idempotency keys past their TTL (idempotent; safe to run concurrently)."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
