"""Payment tasks: idempotent, take ids, run outside any transaction."""

from __future__ import annotations

import logging

from celery import shared_task

from payments.gateways import GatewayError, get_gateway
from payments.models import Payment
from payments.waitlist_offers import promote_and_offer, sweep_waitlists
from payments.webhooks import apply_pending_webhooks, apply_stored_webhook

logger = logging.getLogger(__name__)

EXPIRE_MAX_RETRIES = 5
APPLY_MAX_RETRIES = 5
# The sweep leaves a recorded webhook to its own task for this long, then applies it.
WEBHOOK_SWEEP_AFTER_SECONDS = 60
WEBHOOK_SWEEP_BATCH = 500


@shared_task(bind=True, acks_late=True, max_retries=EXPIRE_MAX_RETRIES)
def expire_gateway_order(self, payment_id: int) -> str:
    """Close the gateway order/session of a booking that can no longer be paid.

    A no-op for a payment that is already captured/failed or whose gateway has nothing
    to close; a gateway refusal (session already complete or expired) is final and only
    logged; network errors and 5xx are retried with exponential backoff.
    """
    payment = Payment.objects.filter(pk=payment_id, status=Payment.Status.CREATED).first()
    if payment is None:
        return "skipped"
    try:
        get_gateway(payment.gateway).expire_order(payment=payment)
    except GatewayError as exc:
        if exc.retryable and self.request.retries < self.max_retries:
            raise self.retry(countdown=30 * 2**self.request.retries, exc=exc) from None
        logger.warning("could not close %s order %s: %s", payment.gateway, payment.order_id, exc)
        return "failed"
    return "expired"


@shared_task(name="payments.tasks.promote_waitlist")
def promote_waitlist_task(slot_id: int) -> list[int]:
    """Offer a slot's free seats to its waitlist, then start the payments and messages.

    Idempotent: a second run finds no free seat (or no waiting entry) and offers
    nothing; a run for a slot that is still full does nothing.
    """
    return promote_and_offer(slot_id=slot_id)


@shared_task(name="payments.tasks.sweep_waitlists")
def sweep_waitlists_task() -> list[int]:
    """Periodic safety net: expire entries of started slots, promote slots with room."""
    return sweep_waitlists()


@shared_task(
    bind=True,
    name="payments.tasks.apply_webhook_event",
    acks_late=True,
    max_retries=APPLY_MAX_RETRIES,
)
def apply_webhook_event(self, event_id: int) -> str | None:
    """Apply a recorded gateway delivery (``payments.intake``): exactly once per ledger
    row, so a redelivered or repeated task changes nothing (None).

    Acknowledged after it ran: a worker that dies whole leaves the message to the
    broker, which redelivers it; a pool process that dies alone gets it acknowledged as
    failed (``task_reject_on_worker_lost`` stays off, so an event that kills its process
    cannot loop) and the sweep applies it. An error
    (a lock wait past ``LOCK_TIMEOUT_MS``, the database away) rolls its effects back and
    is retried with backoff; after the last retry the row stays pending for
    :func:`apply_pending_webhooks_task`.
    """
    try:
        return apply_stored_webhook(event_id=event_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            raise
        raise self.retry(countdown=2**self.request.retries, exc=exc) from None


@shared_task(name="payments.tasks.apply_pending_webhooks")
def apply_pending_webhooks_task() -> list[int]:
    """Periodic safety net: apply webhooks recorded more than a minute ago and still
    pending (their task lost or failed). Idempotent."""
    return apply_pending_webhooks(
        older_than_seconds=WEBHOOK_SWEEP_AFTER_SECONDS, limit=WEBHOOK_SWEEP_BATCH
    )
