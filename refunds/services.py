"""Refund and dispute operations.

Money rule enforced here, for every source (cancellation, late capture, manual,
dispute): the non-failed refunds of a payment never add up to more than its
captured amount. Every refund is created under a row lock on the payment, so
concurrent creators are serialised and the sum check is exact.

Refunds are *recorded* inside the caller's transaction and *executed* by
``refunds.tasks.execute_refund`` after commit; gateway HTTP never runs while a
row lock is held. Status changes are conditional UPDATEs, so a late or repeated
event can never move a SUCCEEDED refund back.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.transitions import record_event
from payments.models import Payment
from refunds.errors import (
    BookingNotFound,
    DisputeAlreadyOpen,
    DisputeNotAllowed,
    DisputeNotFound,
    DisputeNotOpen,
    InvalidRefundAmount,
    NothingCaptured,
    RefundExceedsCaptured,
    RefundNotFound,
    RefundNotRetryable,
)
from refunds.models import Dispute, Refund

logger = logging.getLogger(__name__)

# Refunds that count against the captured amount (money sent, in flight or due).
COUNTED_STATUSES = (
    Refund.Status.PENDING,
    Refund.Status.PROCESSING,
    Refund.Status.SUCCEEDED,
)
IN_FLIGHT_STATUSES = (Refund.Status.PENDING, Refund.Status.PROCESSING)
DISPUTABLE_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CANCELLED)


def _enqueue_execution(refund_id: int) -> None:
    from refunds.tasks import execute_refund

    transaction.on_commit(lambda: execute_refund.delay(refund_id))


def refunded_total(*, payment_id: int) -> int:
    """Sum of the payment's refunds that are not FAILED (pending, processing, succeeded)."""
    total = (
        Refund.objects.filter(payment_id=payment_id, status__in=COUNTED_STATUSES)
        .aggregate(total=Sum("amount_minor"))
        .get("total")
    )
    return total or 0


def refundable_amount(*, payment: Payment) -> int:
    """What can still be refunded: captured minus the non-failed refunds (never negative)."""
    return max(payment.captured_amount_minor - refunded_total(payment_id=payment.pk), 0)


def _lock_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment_id)


def _lock_payment_of_refund(refund_id: int) -> None:
    """Lock order everywhere: payment row first, then refund/dispute rows (no deadlock
    between the task, webhooks and support acting on one payment)."""
    payment_id = Refund.objects.filter(pk=refund_id).values_list("payment_id", flat=True).first()
    if payment_id is not None:
        _lock_payment(payment_id)


@transaction.atomic
def create_refund(
    *,
    booking: Booking,
    payment: Payment,
    amount_minor: int,
    source: str,
    reason: str,
    actor=None,
    percent: int | None = None,
    policy_version: int | None = None,
) -> Refund:
    """Record a refund of ``amount_minor`` of ``payment`` and schedule its execution.

    Guarantees:
    - atomic, and joins the caller's transaction (the row exists only if it commits);
    - the payment row is locked (``SELECT ... FOR UPDATE``) while the running total is
      checked, so concurrent refunds of one payment cannot together exceed
      ``payment.captured_amount_minor``; raises :class:`RefundExceedsCaptured` (409
      ``refund_exceeds_captured``) when ``amount_minor`` plus the pending, processing and
      succeeded refunds would exceed it;
    - ``amount_minor == 0`` records a NOT_REQUIRED row (the policy decision is kept,
      e.g. a 0 % cancellation tier) and nothing is sent to the gateway;
    - ``amount_minor > 0`` records a PENDING row and enqueues
      ``refunds.tasks.execute_refund.delay(refund.id)`` with ``transaction.on_commit``;
    - a timeline event ``refund_created`` is written on the booking.

    ``source`` is a :class:`Refund.Source` value (``cancellation``, ``late_capture``,
    ``manual``, ``dispute``). Raises :class:`InvalidRefundAmount` (400) for a negative
    amount or a payment of another booking.
    """
    if amount_minor < 0:
        raise InvalidRefundAmount("The refund amount cannot be negative.")
    if payment.booking_id != booking.pk:
        raise InvalidRefundAmount("The payment does not belong to this booking.")
    if source not in Refund.Source.values:
        raise ValueError(f"unknown refund source {source!r}")

    locked = _lock_payment(payment.pk)
    if amount_minor > 0:
        already = refunded_total(payment_id=locked.pk)
        if already + amount_minor > locked.captured_amount_minor:
            raise RefundExceedsCaptured(
                f"Refunding {amount_minor} would exceed the captured amount "
                f"({locked.captured_amount_minor}, {already} already refunded or in flight).",
                errors={"amount": [f"At most {max(locked.captured_amount_minor - already, 0)}."]},
            )

    refund = Refund.objects.create(
        booking=booking,
        payment=locked,
        amount_minor=amount_minor,
        currency=locked.currency,
        percent=percent,
        source=source,
        reason=(reason or "")[:255],
        status=Refund.Status.PENDING if amount_minor > 0 else Refund.Status.NOT_REQUIRED,
        policy_version=policy_version,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record_event(
        booking_id=booking.pk,
        kind="refund_created",
        actor=refund.created_by,
        actor_label="" if refund.created_by else "system",
        reason=refund.reason,
        data={
            "refund_id": refund.pk,
            "amount": amount_minor,
            "percent": percent,
            "source": source,
            "status": refund.status,
            "policy_version": policy_version,
        },
    )
    if amount_minor > 0:
        _enqueue_execution(refund.pk)
    return refund


@transaction.atomic
def refund_booking_manually(*, booking_id: int, amount_minor: int, reason: str, actor) -> Refund:
    """Support staff refund (partial allowed) of a booking's captured payment.

    Same guarantees as :func:`create_refund` (source ``manual``): never above the captured
    amount minus earlier non-failed refunds (409 ``refund_exceeds_captured``). Raises
    :class:`NothingCaptured` (409) when the booking has no captured payment and
    :class:`InvalidRefundAmount` (400) for an amount below 1.
    """
    if amount_minor < 1:
        raise InvalidRefundAmount("The refund amount must be at least 1.")
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None:
        raise BookingNotFound()
    payment = Payment.objects.filter(booking_id=booking_id).first()
    if payment is None or payment.captured_amount_minor == 0:
        raise NothingCaptured()
    return create_refund(
        booking=booking,
        payment=payment,
        amount_minor=amount_minor,
        source=Refund.Source.MANUAL,
        reason=reason,
        actor=actor,
    )


@transaction.atomic
def retry_refund(*, refund_id: int, actor=None) -> Refund:
    """Put a FAILED refund back to PENDING (attempts reset) and enqueue its execution.

    Conditional update (``failed -> pending``), so two concurrent retries enqueue one run.
    The payment is locked and the captured total re-checked first: a manual refund made
    since the failure may have used the room (409 ``refund_exceeds_captured``).

    A refund that failed before the gateway accepted it keeps its idempotency key, so a
    refund the gateway did process despite the error is not paid twice. A refund the
    gateway accepted and later reported failed (it has a gateway refund id) is a new
    refund at the gateway: its id is cleared (kept in the timeline event) and the key
    moves to the next round, since the old key would only replay the failed refund's
    answer. Raises :class:`RefundNotRetryable` (409) unless the refund is FAILED.
    """
    refund = Refund.objects.filter(pk=refund_id).first()
    if refund is None:
        raise RefundNotFound()
    if refund.payment_id is None:
        raise RefundNotRetryable("The refund has no payment.")
    payment = _lock_payment(refund.payment_id)
    refund.refresh_from_db()
    if refund.status != Refund.Status.FAILED:
        raise RefundNotRetryable()
    if refunded_total(payment_id=payment.pk) + refund.amount_minor > payment.captured_amount_minor:
        raise RefundExceedsCaptured(
            "Retrying would exceed the captured amount; later refunds used the room."
        )
    updates: dict = {"status": Refund.Status.PENDING, "attempts": 0, "updated_at": timezone.now()}
    if refund.gateway_refund_id:
        updates.update(gateway_refund_id="", key_round=F("key_round") + 1)
    updated = Refund.objects.filter(pk=refund_id, status=Refund.Status.FAILED).update(**updates)
    if updated != 1:  # pragma: no cover - the payment lock serialises retries
        raise RefundNotRetryable()
    record_event(
        booking_id=refund.booking_id,
        kind="refund_retried",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        data={"refund_id": refund.pk, "failed_gateway_refund_id": refund.gateway_refund_id},
    )
    _enqueue_execution(refund.pk)
    refund.refresh_from_db()
    return refund


# --- execution steps (used by refunds.tasks.execute_refund) ---------------------------


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
    _lock_payment_of_refund(refund_id)
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
    _lock_payment_of_refund(refund_id)
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
    payment = _lock_payment(payment_id)
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
    _lock_payment(payment.pk)
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


@transaction.atomic
def record_gateway_dispute(*, payment: Payment, gateway_dispute_id: str, reason: str) -> Dispute:
    """Record a dispute (chargeback) opened at the gateway. Idempotent per
    ``gateway_dispute_id``: a repeated event returns the existing dispute unchanged.

    When the booking already has an open customer dispute without a gateway id, the
    gateway dispute is attached to it (one open dispute per booking). Serialised per
    payment by a row lock on the payment.
    """
    locked = _lock_payment(payment.pk)
    existing = Dispute.objects.filter(gateway_dispute_id=gateway_dispute_id).first()
    if existing is not None:
        return existing
    open_dispute = Dispute.objects.filter(
        booking_id=locked.booking_id, status=Dispute.Status.OPEN
    ).first()
    if open_dispute is not None:
        if not open_dispute.gateway_dispute_id:
            Dispute.objects.filter(pk=open_dispute.pk, gateway_dispute_id="").update(
                gateway_dispute_id=gateway_dispute_id
            )
        record_event(
            booking_id=locked.booking_id,
            kind="gateway_dispute",
            actor_label=locked.gateway,
            reason=reason[:255],
            data={"dispute_id": open_dispute.pk, "gateway_dispute_id": gateway_dispute_id},
        )
        open_dispute.refresh_from_db()
        return open_dispute
    dispute = Dispute.objects.create(
        booking_id=locked.booking_id,
        source=Dispute.Source.GATEWAY,
        gateway_dispute_id=gateway_dispute_id,
        reason=reason or "Dispute opened at the gateway.",
    )
    record_event(
        booking_id=locked.booking_id,
        kind="dispute_opened",
        actor_label=locked.gateway,
        reason=dispute.reason[:255],
        data={"dispute_id": dispute.pk, "gateway_dispute_id": gateway_dispute_id},
    )
    return dispute


# --- customer disputes and their resolution ---------------------------------------------


@transaction.atomic
def open_dispute(*, booking_id: int, customer, reason: str) -> Dispute:
    """A customer disputes their own COMPLETED or CANCELLED booking.

    Raises :class:`DisputeNotFound` (404) for another customer's booking,
    :class:`DisputeNotAllowed` (409) in other states and :class:`DisputeAlreadyOpen`
    (409 ``dispute_already_open``) when an open dispute exists; the partial unique
    constraint makes the last check race-free.
    """
    booking = Booking.objects.filter(pk=booking_id, customer=customer).first()
    if booking is None:
        raise DisputeNotFound("No such booking.")
    if booking.status not in DISPUTABLE_STATUSES:
        raise DisputeNotAllowed()
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                booking=booking, raised_by=customer, source=Dispute.Source.CUSTOMER, reason=reason
            )
    except IntegrityError:
        raise DisputeAlreadyOpen() from None
    record_event(
        booking_id=booking.pk,
        kind="dispute_opened",
        actor=customer,
        reason=reason[:255],
        data={"dispute_id": dispute.pk},
    )
    return dispute


@transaction.atomic
def resolve_dispute_with_refund(*, dispute_id: int, amount_minor: int, note: str, actor) -> Dispute:
    """Close an OPEN dispute by refunding ``amount_minor`` (source ``dispute``).

    One transaction: conditional ``open -> resolved_refund`` (409 ``dispute_not_open``
    when someone else closed it first), then :func:`create_refund`, whose captured-amount
    check (409 ``refund_exceeds_captured``) rolls the resolution back too. Records the
    staff member, time and note.
    """
    if amount_minor < 1:
        raise InvalidRefundAmount("The refund amount must be at least 1.")
    booking_id = Dispute.objects.filter(pk=dispute_id).values_list("booking_id", flat=True).first()
    payment = Payment.objects.select_for_update().filter(booking_id=booking_id).first()
    dispute = _close_dispute(
        dispute_id=dispute_id, status=Dispute.Status.RESOLVED_REFUND, note=note, actor=actor
    )
    if payment is None or payment.captured_amount_minor == 0:
        raise NothingCaptured()
    refund = create_refund(
        booking=dispute.booking,
        payment=payment,
        amount_minor=amount_minor,
        source=Refund.Source.DISPUTE,
        reason=f"Dispute #{dispute.pk}: {note}"[:255],
        actor=actor,
    )
    Dispute.objects.filter(pk=dispute.pk).update(refund=refund)
    dispute.refresh_from_db()
    return dispute


@transaction.atomic
def reject_dispute(*, dispute_id: int, note: str, actor) -> Dispute:
    """Close an OPEN dispute without a refund (conditional ``open -> rejected``; 409
    ``dispute_not_open`` otherwise), recording the staff member, time and note."""
    return _close_dispute(
        dispute_id=dispute_id, status=Dispute.Status.REJECTED, note=note, actor=actor
    )


def _close_dispute(*, dispute_id: int, status: str, note: str, actor) -> Dispute:
    if not Dispute.objects.filter(pk=dispute_id).exists():
        raise DisputeNotFound()
    now = timezone.now()
    updated = Dispute.objects.filter(pk=dispute_id, status=Dispute.Status.OPEN).update(
        status=status, resolution_note=note, resolved_by=actor, resolved_at=now
    )
    if updated != 1:
        raise DisputeNotOpen()
    dispute = Dispute.objects.select_related("booking").get(pk=dispute_id)
    record_event(
        booking_id=dispute.booking_id,
        kind="dispute_" + status,
        actor=actor,
        reason=note[:255],
        data={"dispute_id": dispute.pk},
    )
    return dispute
