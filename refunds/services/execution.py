"""Refund execution steps (used by ``refunds.tasks.execute_refund``) and the
reconciliation of gateway refund events.

Status changes are conditional UPDATEs, so a late or repeated event can never move a
SUCCEEDED refund back. Lock order everywhere: the payment row first, then refund rows.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from bookings.transitions import record_event
from payments.models import Payment
from refunds.models import Refund
from refunds.services.creation import IN_FLIGHT_STATUSES, lock_payment, lock_payment_of_refund

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
    updates = {"status": Refund.Status.SUCCEEDED, "last_error": "", "updated_at": timezone.now()}
    if gateway_refund_id:
        updates["gateway_refund_id"] = gateway_refund_id
    updated = Refund.objects.filter(
        pk=refund_id, status__in=(*IN_FLIGHT_STATUSES, Refund.Status.FAILED)
    ).update(**updates)
    if updated != 1:
        return False
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


def mark_refund_awaiting_gateway(*, refund_id: int, gateway_refund_id: str) -> bool:
    """The gateway accepted the refund but has not processed it yet: keep PROCESSING and
    remember its id so the refund webhook can reconcile it."""
    return (
        Refund.objects.filter(pk=refund_id, status__in=IN_FLIGHT_STATUSES).update(
            status=Refund.Status.PROCESSING,
            gateway_refund_id=gateway_refund_id,
            last_error="",
            updated_at=timezone.now(),
        )
        == 1
    )


def note_refund_error(*, refund_id: int, error: str) -> None:
    """Remember the last (retryable) error of an attempt; the refund stays in flight."""
    Refund.objects.filter(pk=refund_id, status__in=IN_FLIGHT_STATUSES).update(
        last_error=error[:2000], updated_at=timezone.now()
    )


@transaction.atomic
def mark_refund_failed(*, refund_id: int, error: str) -> bool:
    """PENDING/PROCESSING -> FAILED with ``last_error`` (conditional; never from SUCCEEDED).

    A FAILED refund shows in the admin's "needs attention" filter and flags its payment
    (``Payment.flagged`` with the reason); support can retry it.
    Returns False when nothing changed.
    """
    lock_payment_of_refund(refund_id)
    updated = Refund.objects.filter(pk=refund_id, status__in=IN_FLIGHT_STATUSES).update(
        status=Refund.Status.FAILED, last_error=error[:2000], updated_at=timezone.now()
    )
    if updated != 1:
        return False
    refund = Refund.objects.get(pk=refund_id)
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
    if succeeded <= 0 or payment.captured_amount_minor <= 0:
        return
    new_status = (
        Payment.Status.REFUNDED
        if succeeded >= payment.captured_amount_minor
        else Payment.Status.PARTIALLY_REFUNDED
    )
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
) -> Refund | None:
    """Apply a gateway refund event (``refund.processed``/``refund.failed``,
    ``charge.refunded``) to our refund row. Idempotent; events may come late or twice.

    The refund is found by ``gateway_refund_id`` on this payment; failing that (the
    webhook beat our task to storing the id), by the oldest in-flight refund of the
    payment with no gateway id and the same amount, which then gets the id. Success moves
    PENDING/PROCESSING/FAILED -> SUCCEEDED and syncs the payment status; failure moves
    PENDING/PROCESSING -> FAILED. SUCCEEDED is never moved back. Returns the refund
    (refreshed) or None when no refund of ours matches (a refund made outside Slotwise:
    the caller should flag it for support).
    """
    lock_payment(payment.pk)
    refund = Refund.objects.filter(payment=payment, gateway_refund_id=gateway_refund_id).first()
    if refund is None and amount_minor is not None:
        refund = (
            Refund.objects.filter(
                payment=payment,
                gateway_refund_id="",
                amount_minor=amount_minor,
                status__in=IN_FLIGHT_STATUSES,
            )
            .order_by("created_at", "id")
            .first()
        )
        if refund is not None:
            Refund.objects.filter(pk=refund.pk, gateway_refund_id="").update(
                gateway_refund_id=gateway_refund_id
            )
    if refund is None:
        logger.warning(
            "gateway refund %s of payment %s matches no refund", gateway_refund_id, payment.pk
        )
        return None
    if succeeded:
        mark_refund_succeeded(refund_id=refund.pk, gateway_refund_id=gateway_refund_id)
    else:
        mark_refund_failed(refund_id=refund.pk, error=detail or "The gateway reported a failure.")
    refund.refresh_from_db()
    return refund
