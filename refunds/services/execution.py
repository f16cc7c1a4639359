"""Refund execution: the task that sends a refund to its gateway, and its steps.

The only place refunds reach a payment gateway (:func:`execute_refund`, a Celery task
enqueued after the commit that recorded the refund: :func:`enqueue_execution`).
Status changes are conditional UPDATEs, so a late or repeated event changes nothing;
a SUCCEEDED refund moves back only when the gateway itself reports it failed
(:func:`mark_refund_failed`) or its gateway refund id turns out to be another
refund's (:func:`take_gateway_refund_id`). Lock order everywhere: the payment
row first, then refund rows.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bookings.models import Booking
from bookings.notices import notify_customer
from bookings.transitions import record_event
from notifications.messages import Kind
from payments.gateways import GatewayError, get_gateway
from payments.services import flag_payment
from refunds.models import Refund
from refunds.services.ledger import (
    IN_FLIGHT_STATUSES,
    lock_payment_of_refund,
    settle_payment_status,
)

logger = logging.getLogger(__name__)

REFUND_MAX_ATTEMPTS = settings.REFUND_MAX_ATTEMPTS
REFUND_RETRY_BASE_SECONDS = settings.REFUND_RETRY_BASE_SECONDS
REFUND_RETRY_MAX_SECONDS = 60 * 60


def enqueue_execution(refund_id: int) -> None:
    """Run :func:`execute_refund` for the refund once the current transaction commits.

    robust: a broker outage at commit time must not turn the committed request (a
    cancel, a webhook) into an error; the refund stays PENDING and the beat sweep
    ``refunds.tasks.resume_stalled_refunds`` sends it once it has been idle for
    ``REFUND_STALL_MINUTES``.
    """
    transaction.on_commit(lambda: execute_refund.delay(refund_id), robust=True)


def retry_delay(retries: int, *, base: float = REFUND_RETRY_BASE_SECONDS) -> float:
    """Exponential backoff with jitter: uniform in [c/2, c], c = base * 2**retries (capped).

    ``retries`` is how many retries already happened (0 before the first retry).
    """
    ceiling = min(base * (2**retries), REFUND_RETRY_MAX_SECONDS)
    return random.uniform(ceiling / 2, ceiling)


@shared_task(
    name="refunds.tasks.execute_refund",
    bind=True,
    acks_late=True,
    max_retries=REFUND_MAX_ATTEMPTS - 1,
)
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
    Retryable gateway errors (network, 5xx, 409, 429: ``gateways.base.is_retryable_status``)
    are retried with exponential backoff and jitter, up to ``REFUND_MAX_ATTEMPTS``
    attempts, then FAILED; other 4xx fail at once. FAILED refunds carry ``last_error`` and
    are listed for support.
    """
    refund = claim_refund_attempt(refund_id=refund_id)
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
            note_refund_error(refund_id=refund_id, error=error)
            logger.info("refund %s attempt failed, retrying: %s", refund_id, error)
            raise self.retry(countdown=retry_delay(self.request.retries), exc=exc) from None
        mark_refund_failed(refund_id=refund_id, error=error)
        return "failed"
    if result.status == "processed":
        mark_refund_succeeded(refund_id=refund_id, gateway_refund_id=result.gateway_refund_id)
        return "succeeded"
    mark_refund_awaiting_gateway(refund_id=refund_id, gateway_refund_id=result.gateway_refund_id)
    return "processing"


def claim_refund_attempt(*, refund_id: int) -> Refund | None:
    """Claim a PENDING/PROCESSING refund the gateway has not accepted yet for one gateway
    attempt (attempts + 1).

    One conditional UPDATE, no lock kept. Returns None when the refund is no longer
    in flight (SUCCEEDED, FAILED, NOT_REQUIRED or missing), or when the gateway already
    accepted it (it has a gateway refund id and awaits the refund webhook: asking again
    would only replay the first answer, and once the gateway forgets the key, refund
    twice). The caller then does nothing, which makes the task safe to run twice.
    """
    claimed = Refund.objects.filter(
        pk=refund_id, status__in=IN_FLIGHT_STATUSES, gateway_refund_id=""
    ).update(status=Refund.Status.PROCESSING, attempts=F("attempts") + 1, updated_at=timezone.now())
    if claimed != 1:
        return None
    return Refund.objects.select_related("payment", "booking").get(pk=refund_id)


@transaction.atomic
def mark_refund_succeeded(*, refund_id: int, gateway_refund_id: str) -> bool:
    """PENDING/PROCESSING/FAILED -> SUCCEEDED (conditional), then sync the payment status.

    FAILED is accepted because the gateway is the source of truth: a refund we gave up on
    that the gateway processed after all is money sent. Returns False when nothing
    changed (already SUCCEEDED or NOT_REQUIRED).
    """
    lock_payment_of_refund(refund_id)
    movable = Refund.objects.filter(
        pk=refund_id, status__in=(*IN_FLIGHT_STATUSES, Refund.Status.FAILED)
    )
    if not movable.exists():
        return False
    updates = {"status": Refund.Status.SUCCEEDED, "last_error": "", "updated_at": timezone.now()}
    if gateway_refund_id:
        take_gateway_refund_id(refund_id=refund_id, gateway_refund_id=gateway_refund_id)
        updates["gateway_refund_id"] = gateway_refund_id
    movable.update(**updates)
    refund = Refund.objects.get(pk=refund_id)
    settle_payment_status(payment_id=refund.payment_id)
    record_event(
        booking_id=refund.booking_id,
        kind="refund_succeeded",
        actor_label="gateway",
        data={"refund_id": refund.pk, "gateway_refund_id": refund.gateway_refund_id},
    )
    _notify_refund(refund)
    return True


@transaction.atomic
def mark_refund_awaiting_gateway(*, refund_id: int, gateway_refund_id: str) -> bool:
    """The gateway accepted the refund but has not processed it yet: keep PROCESSING and
    remember its id so the refund webhook can reconcile it. Returns False when the
    refund is no longer in flight (e.g. its webhook got there first)."""
    lock_payment_of_refund(refund_id)
    in_flight = Refund.objects.filter(pk=refund_id, status__in=IN_FLIGHT_STATUSES)
    if not in_flight.exists():
        return False
    take_gateway_refund_id(refund_id=refund_id, gateway_refund_id=gateway_refund_id)
    in_flight.update(
        status=Refund.Status.PROCESSING,
        gateway_refund_id=gateway_refund_id,
        last_error="",
        updated_at=timezone.now(),
    )
    return True


def take_gateway_refund_id(*, refund_id: int, gateway_refund_id: str) -> None:
    """Make ``gateway_refund_id`` free for ``refund_id`` (unique index
    ``refund_gateway_id_unique``); the caller holds the payment lock.

    The gateway's answer to a refund's own idempotency key is authoritative. Another
    refund can only hold that id through a guess: an event without our reference matched
    by its amount (:func:`reconcile_gateway_refund`) before this refund's task recorded
    the id. That refund goes back in flight (PROCESSING) without a gateway id, whatever
    the guess made of it, with ``last_error`` saying why, its payment flagged for support
    and a ``refund_gateway_id_moved`` timeline event; its execution is enqueued again, so
    its own key asks the gateway for its own refund (replayed, never paid twice).
    """
    holder = (
        Refund.objects.filter(gateway_refund_id=gateway_refund_id).exclude(pk=refund_id).first()
    )
    if holder is None:
        return
    error = (
        f"Gateway refund {gateway_refund_id} was matched here by amount but belongs to "
        f"refund #{refund_id}; asking the gateway again for this refund's own."
    )
    Refund.objects.filter(pk=holder.pk).update(
        status=Refund.Status.PROCESSING,
        gateway_refund_id="",
        last_error=error,
        updated_at=timezone.now(),
    )
    if holder.payment_id is not None:
        flag_payment(payment_id=holder.payment_id, reason=f"Refund #{holder.pk}: {error}")
    record_event(
        booking_id=holder.booking_id,
        kind="refund_gateway_id_moved",
        actor_label="gateway",
        reason=error[:255],
        data={
            "refund_id": holder.pk,
            "previous_status": holder.status,
            "gateway_refund_id": gateway_refund_id,
            "moved_to_refund_id": refund_id,
        },
    )
    logger.warning("refund %s: %s", holder.pk, error)
    settle_payment_status(payment_id=holder.payment_id)
    enqueue_execution(holder.pk)


def note_refund_error(*, refund_id: int, error: str) -> None:
    """Remember the last (retryable) error of an attempt; the refund stays in flight."""
    Refund.objects.filter(pk=refund_id, status__in=IN_FLIGHT_STATUSES).update(
        last_error=error[:2000], updated_at=timezone.now()
    )


@transaction.atomic
def mark_refund_failed(*, refund_id: int, error: str, reported_by_gateway: bool = False) -> bool:
    """PENDING/PROCESSING -> FAILED with ``last_error`` (conditional).

    SUCCEEDED moves too when ``reported_by_gateway``: the gateway is the source of truth,
    and a refund it accepted can still fail afterwards (Stripe sends ``refund.failed``
    for a refund it had reported succeeded; its ``charge.refunded`` total also counts
    refunds still pending). The payment status is then synced back. Our own task's
    errors never undo a success.

    A FAILED refund shows in the admin's "needs attention" filter and flags its payment
    (``Payment.flagged`` with the reason); support can retry it.
    Returns False when nothing changed.
    """
    lock_payment_of_refund(refund_id)
    movable = [*IN_FLIGHT_STATUSES, *([Refund.Status.SUCCEEDED] if reported_by_gateway else [])]
    was_succeeded = Refund.objects.filter(pk=refund_id, status=Refund.Status.SUCCEEDED).exists()
    updated = Refund.objects.filter(pk=refund_id, status__in=movable).update(
        status=Refund.Status.FAILED, last_error=error[:2000], updated_at=timezone.now()
    )
    if updated != 1:
        return False
    refund = Refund.objects.get(pk=refund_id)
    if was_succeeded:
        settle_payment_status(payment_id=refund.payment_id)
    if refund.payment_id is not None:
        # Support's payments list shows flagged payments; a failed refund needs a human.
        flag_payment(payment_id=refund.payment_id, reason=f"Refund #{refund.pk} failed: {error}")
    record_event(
        booking_id=refund.booking_id,
        kind="refund_failed",
        actor_label="gateway",
        reason=error[:255],
        data={"refund_id": refund.pk},
    )
    logger.warning("refund %s failed: %s", refund_id, error)
    return True


def _notify_refund(refund: Refund) -> None:
    booking = Booking.objects.select_related(
        "customer", "slot", "partner__city", "variant__service"
    ).get(pk=refund.booking_id)
    notify_customer(
        kind=Kind.REFUND_SUCCEEDED,
        booking=booking,
        context={
            "amount": refund.amount_minor,
            "currency": refund.currency,
            "status": refund.status,
        },
        once_key=f"refund-{refund.pk}-succeeded",
    )
