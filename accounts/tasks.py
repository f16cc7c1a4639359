from celery import shared_task
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken


@shared_task(name="accounts.tasks.purge_expired_refresh_tokens")
def purge_expired_refresh_tokens() -> int:
    """Forget refresh tokens past their expiry, revoked or not (an expired token is refused
    anyway); what simplejwt's ``flushexpiredtokens`` does. Idempotent; returns how many."""
    expired = OutstandingToken.objects.filter(expires_at__lt=timezone.now())
    _, by_model = expired.delete()  # their blacklist entries go with them (cascade)
    return by_model.get(OutstandingToken._meta.label, 0)
