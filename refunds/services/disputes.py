"""Disputes: opened by customers or recorded from gateway chargebacks, closed by support
with a refund (through :func:`refunds.services.creation.create_refund`, so the captured
ceiling holds) or a rejection."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.errors import BookingNotFound
from bookings.models import Booking, BookingStatus
from bookings.transitions import record_event
from payments.models import Payment
from payments.services import flag_payment_once, lock_payment, lock_payment_of_booking
from refunds.errors import (
    DisputeAlreadyOpen,
    DisputeNotAllowed,
    DisputeNotFound,
    DisputeNotOpen,
    InvalidRefundAmount,
    NothingCaptured,
)
from refunds.models import Dispute, Refund
from refunds.services.creation import create_refund

DISPUTABLE_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CANCELLED)

# The gateway's final dispute statuses (Stripe, Razorpay) -> our outcome.
FINAL_GATEWAY_STATUSES = {
    "won": Dispute.Outcome.WON,
    "lost": Dispute.Outcome.LOST,
    "warning_closed": Dispute.Outcome.CLOSED,
    "closed": Dispute.Outcome.CLOSED,
}
# Statuses in which the gateway waits for our evidence (the admin lists them by due date).
NEEDS_EVIDENCE_STATUSES = ("needs_response", "warning_needs_response", "open")


@transaction.atomic
def record_gateway_dispute_state(
    *,
    payment: Payment,
    gateway_dispute_id: str,
    reason: str,
    gateway_status: str,
    amount_minor: int | None,
    currency: str,
    evidence_due_by: int | None,
) -> Dispute:
    """Apply a gateway dispute event (opened, updated, closed): the dispute is recorded
    if new (:func:`record_gateway_dispute`), then takes the event's status, amount and
    evidence due date. Serialised on the payment row; idempotent.

    A final status (won, lost, ``warning_closed``/``closed``) sets the ``outcome`` once;
    a later event never changes a decided outcome (events may arrive out of order). An
    OPEN dispute then becomes CLOSED. A lost dispute is money that left: its amount is
    recorded as ``lost_amount_minor`` (it counts in the money invariant and in the
    captured ceiling of refunds), the payment is flagged for support (once) and the
    timeline says so.
    """
    locked = lock_payment(payment.pk)
    dispute = record_gateway_dispute(
        payment=locked, gateway_dispute_id=gateway_dispute_id, reason=reason
    )
    updates: dict = {}
    if gateway_status and not dispute.outcome:
        updates["gateway_status"] = gateway_status[:32]
    if amount_minor is not None and not dispute.outcome:
        updates.update(amount_minor=amount_minor, currency=(currency or locked.currency)[:3])
    if evidence_due_by is not None:
        updates["evidence_due_by"] = datetime.fromtimestamp(evidence_due_by, tz=UTC)
    outcome = FINAL_GATEWAY_STATUSES.get(gateway_status)
    if outcome is not None and not dispute.outcome:
        updates.update(outcome=outcome, closed_at=timezone.now())
        if outcome == Dispute.Outcome.LOST:
            lost = amount_minor if amount_minor is not None else dispute.amount_minor
            updates["lost_amount_minor"] = lost or 0
    if updates:
        Dispute.objects.filter(pk=dispute.pk).update(**updates)
    if outcome is not None and "outcome" in updates:
        Dispute.objects.filter(pk=dispute.pk, status=Dispute.Status.OPEN).update(
            status=Dispute.Status.CLOSED
        )
        _record_outcome(payment=locked, dispute_id=dispute.pk, updates=updates)
    dispute.refresh_from_db()
    return dispute


def _record_outcome(*, payment: Payment, dispute_id: int, updates: dict) -> None:
    outcome = updates["outcome"]
    record_event(
        booking_id=payment.booking_id,
        kind=f"dispute_{outcome}",
        actor_label=payment.gateway,
        reason=f"The gateway closed the dispute: {outcome}.",
        data={"dispute_id": dispute_id, "lost": updates.get("lost_amount_minor", 0)},
    )
    if outcome == Dispute.Outcome.LOST:
        lost = updates.get("lost_amount_minor", 0)
        flag_payment_once(
            payment=payment,
            reason=f"Dispute #{dispute_id} lost at the gateway: {lost} {payment.currency} left.",
            label=payment.gateway,
            data={"lost": lost},
            finding={"dispute_lost": dispute_id},
        )


@transaction.atomic
def record_gateway_dispute(*, payment: Payment, gateway_dispute_id: str, reason: str) -> Dispute:
    """Record a dispute (chargeback) opened at the gateway. Idempotent per
    ``gateway_dispute_id``: a repeated event returns the existing dispute unchanged.

    When the booking already has an open customer dispute without a gateway id, the
    gateway dispute is attached to it (one open dispute per booking). Serialised per
    payment by a row lock on the payment.
    """
    locked = lock_payment(payment.pk)
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


@transaction.atomic
def open_dispute(*, booking_id: int, customer, reason: str) -> Dispute:
    """A customer disputes their own COMPLETED or CANCELLED booking.

    Raises :class:`BookingNotFound` (404 ``booking_not_found``) for another customer's booking,
    :class:`DisputeNotAllowed` (409) in other states and :class:`DisputeAlreadyOpen`
    (409 ``dispute_already_open``) when an open dispute exists; the partial unique
    constraint makes the last check race-free.
    """
    booking = Booking.objects.filter(pk=booking_id, customer=customer).first()
    if booking is None:
        raise BookingNotFound()
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
    payment = lock_payment_of_booking(booking_id=booking_id) if booking_id else None
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
