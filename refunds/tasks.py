"""Refund execution: the only place refunds reach a payment gateway."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings

from refunds import services

logger = logging.getLogger(__name__)

REFUND_MAX_ATTEMPTS = settings.REFUND_MAX_ATTEMPTS
REFUND_RETRY_BASE_SECONDS = settings.REFUND_RETRY_BASE_SECONDS
REFUND_RETRY_MAX_SECONDS = 60 * 60


def retry_delay(retries: int, *, base: float = REFUND_RETRY_BASE_SECONDS) -> float:
    """Exponential backoff with jitter: uniform in [c/2, c], c = base * 2**retries (capped).

    ``retries`` is how many retries already happened (0 before the first retry).
    """
    ceiling = min(base * (2**retries), REFUND_RETRY_MAX_SECONDS)
    return random.uniform(ceiling / 2, ceiling)


@shared_task(bind=True, acks_late=True, max_retries=REFUND_MAX_ATTEMPTS - 1)
def execute_refund(self, refund_id: int) -> str:
    """Send one refund to its gateway; safe to run twice, at any time.

    1. Claim: conditional UPDATE pending/processing -> processing, attempts + 1. A refund
       that is SUCCEEDED, FAILED or NOT_REQUIRED is left alone (a second run is a no-op).
    2. Call the gateway outside any transaction and without locks, with the idempotency
       key derived from the refund id (the same on every attempt and every run), so the
       gateway refunds at most once.
    3. ``processed`` -> SUCCEEDED (payment status synced); ``pending`` -> stays PROCESSING
       with the gateway refund id until the refund webhook reconciles it (no later run
       calls the gateway again for it).
    Retryable gateway errors (network, 5xx) are retried with exponential backoff and
    jitter, up to ``REFUND_MAX_ATTEMPTS`` attempts, then FAILED; non-retryable ones (4xx)
    fail at once. FAILED refunds carry ``last_error`` and are listed for support.
    """
    from payments.gateways import GatewayError, get_gateway

    refund = services.claim_refund_attempt(refund_id=refund_id)
    if refund is None:
        return "skipped"
    payment = refund.payment
    try:
        result = get_gateway(payment.gateway).refund(
            payment=payment,
            amount_minor=refund.amount_minor,
            idempotency_key=refund.idempotency_key,
        )
    except GatewayError as exc:
        error = f"{type(exc).__name__}: {exc}"
        retryable = bool(getattr(exc, "retryable", False))
        if retryable and self.request.retries < self.max_retries:
            services.note_refund_error(refund_id=refund_id, error=error)
            logger.info("refund %s attempt failed, retrying: %s", refund_id, error)
            raise self.retry(countdown=retry_delay(self.request.retries), exc=exc) from None
        services.mark_refund_failed(refund_id=refund_id, error=error)
        return "failed"
    if result.status == "processed":
        services.mark_refund_succeeded(
            refund_id=refund_id, gateway_refund_id=result.gateway_refund_id
        )
        return "succeeded"
    services.mark_refund_awaiting_gateway(
        refund_id=refund_id, gateway_refund_id=result.gateway_refund_id
    )
    return "processing"


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
    from datetime import timedelta

    from django.utils import timezone

    from refunds.models import Refund

    cutoff = timezone.now() - timedelta(minutes=REFUND_STALL_MINUTES)
    unsent = Refund.objects.filter(
        status__in=services.IN_FLIGHT_STATUSES, gateway_refund_id="", updated_at__lt=cutoff
    )
    # Never accepted by the gateway after many runs (e.g. a crash before every answer):
    # stop and show it to support instead of looping forever.
    hopeless = unsent.filter(attempts__gte=2 * REFUND_MAX_ATTEMPTS)
    for refund_id in hopeless.values_list("pk", flat=True):
        services.mark_refund_failed(
            refund_id=refund_id, error="Gave up: no answer from the gateway after many attempts."
        )
    stalled = list(unsent.values_list("pk", flat=True)[:500])
    for refund_id in stalled:
        execute_refund.delay(refund_id)
    return len(stalled)
