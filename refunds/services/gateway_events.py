"""Gateway refund and dispute events, applied to our refunds and disputes.

The webhook pipeline (``payments.webhooks``) is a lower layer: it hands the refund and
dispute signals of a verified event to the handlers registered at the bottom of this
module, inside its transaction. A refund event we cannot match, or a refunded total
larger than our refunds, flags the payment for support (through ``payments.services``,
the payment's owner), once per finding.
"""

from __future__ import annotations

import logging

from django.db import transaction

from payments.gateways import PaymentSignal, SignalKind
from payments.models import Payment
from payments.services import Effect, flag_payment_once, lock_payment
from payments.webhooks import register_signal_handler
from refunds.models import Refund
from refunds.services.disputes import record_gateway_dispute_state
from refunds.services.execution import (
    mark_refund_failed,
    mark_refund_succeeded,
    take_gateway_refund_id,
)
from refunds.services.ledger import IN_FLIGHT_STATUSES, sum_of

logger = logging.getLogger(__name__)


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
        take_gateway_refund_id(refund_id=refund.pk, gateway_refund_id=gateway_refund_id)
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
    succeeded = sum_of(refunds.filter(status=Refund.Status.SUCCEEDED))
    unsent = sum_of(refunds.filter(status__in=IN_FLIGHT_STATUSES, gateway_refund_id=""))
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


# --- the webhook pipeline's handlers ----------------------------------------------------


def apply_refund_signal(*, signal: PaymentSignal, payment: Payment, label: str, **_) -> Effect:
    """``refund.processed`` / ``refund.failed`` (and Stripe's per-refund events): settle our
    refund; a refund we did not make is flagged on the payment, once per gateway id."""
    if not signal.refund_id:
        return Effect.NO_EFFECT
    with transaction.atomic():
        refund = reconcile_gateway_refund(
            payment=payment,
            gateway_refund_id=signal.refund_id,
            reference=signal.refund_reference,
            succeeded=signal.kind == SignalKind.REFUND_PROCESSED,
            amount_minor=signal.amount_minor,
            detail=signal.reason,
        )
        if refund is None:
            flag_payment_once(
                payment=payment,
                reason=f"Gateway refund {signal.refund_id} matches no Slotwise refund.",
                label=label,
                data={"amount": signal.amount_minor},
                finding={"gateway_refund_id": signal.refund_id},
            )
            return Effect.FLAGGED
    return Effect.RECONCILED


def apply_refunded_total(*, signal: PaymentSignal, payment: Payment, label: str, **_) -> Effect:
    """Stripe's ``charge.refunded`` without a refunds list: the running total settles our
    refunds it covers; more refunded than all our refunds flags the payment, once per
    total."""
    total = signal.amount_minor or 0
    with transaction.atomic():
        unaccounted = reconcile_refunded_total(payment=payment, refunded_total_minor=total)
        if unaccounted > 0:
            flag_payment_once(
                payment=payment,
                reason=(
                    f"The gateway reports {total} refunded, {unaccounted} "
                    "more than Slotwise's refunds of this payment."
                ),
                label=label,
                data={"unaccounted": unaccounted},
                finding={"gateway_refunded_total": total},
            )
            return Effect.FLAGGED
    return Effect.RECONCILED


def apply_dispute_signal(*, event, signal: PaymentSignal, payment: Payment, **_) -> Effect:
    """A chargeback opened, updated or closed at the gateway (idempotent per gateway
    dispute id; see :func:`record_gateway_dispute_state`)."""
    record_gateway_dispute_state(
        payment=payment,
        gateway_dispute_id=signal.dispute_id or f"{event.gateway}:{event.event_id}",
        reason=signal.reason,
        gateway_status=signal.dispute_status,
        amount_minor=signal.amount_minor,
        currency=signal.currency,
        evidence_due_by=signal.evidence_due_by,
    )
    return Effect.DISPUTE_RECORDED


register_signal_handler(SignalKind.REFUND_PROCESSED, apply_refund_signal)
register_signal_handler(SignalKind.REFUND_FAILED, apply_refund_signal)
register_signal_handler(SignalKind.REFUNDED_TOTAL, apply_refunded_total)
register_signal_handler(SignalKind.DISPUTE, apply_dispute_signal)
