"""Refund execution steps (used by ``refunds.tasks.execute_refund``) and the
reconciliation of gateway refund events.

Status changes are conditional UPDATEs, so a late or repeated event changes nothing;
a SUCCEEDED refund moves back only when the gateway itself reports it failed
(:func:`mark_refund_failed`) or its gateway refund id turns out to be another
refund's (:func:`_take_gateway_refund_id`). Lock order everywhere: the payment
row first, then refund rows.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from bookings.transitions import record_event
from payments.models import Payment
from refunds.models import Refund
from refunds.services.creation import (
    IN_FLIGHT_STATUSES,
    _enqueue_execution,
    lock_payment,
    lock_payment_of_refund,
)

logger = logging.getLogger(__name__)


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
        _take_gateway_refund_id(refund_id=refund_id, gateway_refund_id=gateway_refund_id)
        updates["gateway_refund_id"] = gateway_refund_id
    movable.update(**updates)
    refund = Refund.objects.select_related("booking__customer").get(pk=refund_id)
    _sync_payment_status(payment_id=refund.payment_id)
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
    _take_gateway_refund_id(refund_id=refund_id, gateway_refund_id=gateway_refund_id)
    in_flight.update(
        status=Refund.Status.PROCESSING,
        gateway_refund_id=gateway_refund_id,
        last_error="",
        updated_at=timezone.now(),
    )
    return True


def _take_gateway_refund_id(*, refund_id: int, gateway_refund_id: str) -> None:
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
        Payment.objects.filter(pk=holder.payment_id).update(
            flagged=True,
            flag_reason=f"Refund #{holder.pk}: {error}"[:255],
            updated_at=timezone.now(),
        )
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
    _sync_payment_status(payment_id=holder.payment_id)
    _enqueue_execution(holder.pk)


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
        _sync_payment_status(payment_id=refund.payment_id)
    if refund.payment_id is not None:
        # Support's payments list shows flagged payments; a failed refund needs a human.
        Payment.objects.filter(pk=refund.payment_id).update(
            flagged=True,
            flag_reason=f"Refund #{refund.pk} failed: {error}"[:255],
            updated_at=timezone.now(),
        )
    record_event(
        booking_id=refund.booking_id,
        kind="refund_failed",
        actor_label="gateway",
        reason=error[:255],
        data={"refund_id": refund.pk},
    )
    logger.warning("refund %s failed: %s", refund_id, error)
    return True


def _sync_payment_status(*, payment_id: int | None) -> None:
    """Payment status follows its succeeded refunds: refunded / partially_refunded."""
    if payment_id is None:
        return
    payment = lock_payment(payment_id)
    succeeded = (
        Refund.objects.filter(payment_id=payment_id, status=Refund.Status.SUCCEEDED)
        .aggregate(total=Sum("amount_minor"))
        .get("total")
        or 0
    )
    if payment.captured_amount_minor <= 0:
        return
    if succeeded <= 0:
        new_status = Payment.Status.CAPTURED
    elif succeeded >= payment.captured_amount_minor:
        new_status = Payment.Status.REFUNDED
    else:
        new_status = Payment.Status.PARTIALLY_REFUNDED
    Payment.objects.filter(
        pk=payment_id,
        status__in=(
            Payment.Status.CAPTURED,
            Payment.Status.PARTIALLY_REFUNDED,
            Payment.Status.REFUNDED,
        ),
    ).update(status=new_status, updated_at=timezone.now())


def _notify_refund(refund: Refund) -> None:
    try:
        from notifications.services import notify
    except ImportError:  # pragma: no cover - notifications app is part of the project
        return
    notify(
        kind="refund",
        booking=refund.booking,
        context={
            "amount": refund.amount_minor,
            "currency": refund.currency,
            "status": refund.status,
        },
        once_key=f"refund-{refund.pk}-succeeded",
    )


# --- gateway events --------------------------------------------------------------------


@transaction.atomic
def reconcile_gateway_refund(
    *,
    payment: Payment,
    gateway_refund_id: str,
    succeeded: bool,
    amount_minor: int | None,
    detail: str,
    reference: str = "",
) -> Refund | None:
    """Apply a gateway refund event (``refund.processed``/``refund.failed``,
    ``charge.refunded``, ``refund.updated``) to our refund row. Idempotent; events may
    come late, twice or before our task recorded the gateway's answer.

    The refund is found by ``gateway_refund_id`` on this payment; failing that (the
    webhook beat our task to storing the id), by ``reference``, the idempotency key we
    sent with the refund (``Refund.idempotency_key``), which then gets the id. An event
    naming an earlier key round of a refund (a refund the gateway failed and support
    retried as a new one) changes nothing. Only an event without a reference (a refund
    made before references were sent) falls back to the amount, and only when exactly
    one in-flight refund of the payment without a gateway id has that amount.
    Success moves PENDING/PROCESSING/FAILED -> SUCCEEDED and syncs the payment status;
    failure moves PENDING/PROCESSING/SUCCEEDED -> FAILED (the gateway's word wins, see
    :func:`mark_refund_failed`). Returns
    the refund (refreshed) or None when no refund of ours matches (a refund made outside
    Slotwise, or an ambiguous amount: the caller flags the payment for support, who can
    replay the event once the task recorded the id).
    """
    lock_payment(payment.pk)
    refund = Refund.objects.filter(payment=payment, gateway_refund_id=gateway_refund_id).first()
    if refund is None:
        refund, current_round = _refund_named_by_event(
            payment=payment, reference=reference, amount_minor=amount_minor
        )
        if refund is None:
            logger.warning(
                "gateway refund %s of payment %s matches no refund", gateway_refund_id, payment.pk
            )
            return None
        if not current_round:
            logger.info(
                "gateway refund %s is an earlier round of refund %s: nothing to do",
                gateway_refund_id,
                refund.pk,
            )
            return refund
        _take_gateway_refund_id(refund_id=refund.pk, gateway_refund_id=gateway_refund_id)
        Refund.objects.filter(pk=refund.pk, gateway_refund_id="").update(
            gateway_refund_id=gateway_refund_id
        )
    if succeeded:
        mark_refund_succeeded(refund_id=refund.pk, gateway_refund_id=gateway_refund_id)
    else:
        mark_refund_failed(
            refund_id=refund.pk,
            error=detail or "The gateway reported a failure.",
            reported_by_gateway=True,
        )
    refund.refresh_from_db()
    return refund


def _refund_named_by_event(
    *, payment: Payment, reference: str, amount_minor: int | None
) -> tuple[Refund | None, bool]:
    """The payment's refund an event without a known gateway id is about, and whether
    the event is about its current key round. See :func:`reconcile_gateway_refund`."""
    refunds = list(Refund.objects.filter(payment=payment).order_by("created_at", "id"))
    if reference:
        for refund in refunds:
            if refund.idempotency_key == reference and not refund.gateway_refund_id:
                return refund, True
            earlier = {refund.idempotency_key_of_round(n) for n in range(refund.key_round)}
            if reference in earlier:
                return refund, False
        return None, False
    if amount_minor is None:
        return None, False
    candidates = [
        refund
        for refund in refunds
        if refund.status in IN_FLIGHT_STATUSES
        and not refund.gateway_refund_id
        and refund.amount_minor == amount_minor
    ]
    return (candidates[0], True) if len(candidates) == 1 else (None, False)


@transaction.atomic
def reconcile_refunded_total(*, payment: Payment, refunded_total_minor: int) -> int:
    """Settle refunds of ``payment`` from the total the gateway reports refunded on it
    (Stripe's ``charge.amount_refunded``: its ``charge.refunded`` event has not listed the
    refunds since API version 2022-11-15). Runs under the payment lock; no gateway HTTP.

    The part of the total our SUCCEEDED refunds do not account for settles the in-flight
    refunds the gateway accepted (they have a gateway refund id and wait for its webhook),
    oldest first, each only when it fits whole; the first that does not fit stops the
    walk. An in-flight refund without a gateway id is left to its task, which learns the
    outcome from the gateway's answer to its idempotent call; it is counted as already
    in the total, so the total never settles more than it covers. Idempotent: a repeated
    or older total settles nothing new.

    Returns how much of the total none of our refunds (succeeded or in flight) accounts
    for: more than 0 means a refund made outside Slotwise.
    """
    lock_payment(payment.pk)
    refunds = Refund.objects.filter(payment_id=payment.pk)
    succeeded = _sum(refunds.filter(status=Refund.Status.SUCCEEDED))
    unsent = _sum(refunds.filter(status__in=IN_FLIGHT_STATUSES, gateway_refund_id=""))
    accepted = list(
        refunds.filter(status__in=IN_FLIGHT_STATUSES)
        .exclude(gateway_refund_id="")
        .order_by("created_at", "id")
    )
    uncovered = refunded_total_minor - succeeded - unsent
    for refund in accepted:
        if refund.amount_minor > uncovered:
            break
        mark_refund_succeeded(refund_id=refund.pk, gateway_refund_id="")
        uncovered -= refund.amount_minor
    in_flight = sum(refund.amount_minor for refund in accepted)
    return max(refunded_total_minor - succeeded - unsent - in_flight, 0)


def _sum(refunds) -> int:
    return refunds.aggregate(total=Sum("amount_minor"))["total"] or 0
