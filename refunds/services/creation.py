"""Refund creation: the money ceiling, automatic/manual refunds and support retries.

Money rule enforced here, for every source (cancellation, late capture, manual,
dispute): the non-failed refunds of a payment never add up to more than its
captured amount. Every refund is created under a row lock on the payment, so
concurrent creators are serialised and the sum check is exact.

Refunds are *recorded* inside the caller's transaction and *executed* by
``refunds.services.execution.execute_refund`` after commit; gateway HTTP never runs while a
row lock is held.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bookings.errors import BookingNotFound
from bookings.models import Booking
from bookings.transitions import record_event
from payments.models import Payment
from payments.services import lock_payment
from refunds.errors import (
    InvalidRefundAmount,
    NothingCaptured,
    RefundExceedsCaptured,
    RefundNotFound,
    RefundNotRetryable,
)
from refunds.models import Refund
from refunds.services.execution import enqueue_execution
from refunds.services.ledger import committed_total


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
      ``execute_refund.delay(refund.id)`` with ``transaction.on_commit``;
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

    locked = lock_payment(payment.pk)
    if amount_minor > 0:
        already = committed_total(payment_id=locked.pk)
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
        enqueue_execution(refund.pk)
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
    payment = lock_payment(refund.payment_id)
    refund.refresh_from_db()
    if refund.status != Refund.Status.FAILED:
        raise RefundNotRetryable()
    if committed_total(payment_id=payment.pk) + refund.amount_minor > payment.captured_amount_minor:
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
    enqueue_execution(refund.pk)
    refund.refresh_from_db()
    return refund
