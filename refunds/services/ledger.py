"""What a payment's refunds add up to, and the payment lock every refund change takes.

Money rule for every source: the non-failed refunds of a payment never add up to more
than its captured amount, checked under the payment's row lock (taken through
``payments.services.lock_payment``: payments owns the row and ``common.locking`` the
order, payment before refund rows).
"""

from __future__ import annotations

from django.db.models import Sum

from payments.models import Payment
from payments.services import lock_payment, record_refunded_amount
from refunds.models import Dispute, Refund

COUNTED_STATUSES = (
    Refund.Status.PENDING,
    Refund.Status.PROCESSING,
    Refund.Status.SUCCEEDED,
)
IN_FLIGHT_STATUSES = (Refund.Status.PENDING, Refund.Status.PROCESSING)


def refunded_total(*, payment_id: int) -> int:
    """Sum of the payment's refunds that are not FAILED (pending, processing, succeeded)."""
    total = (
        Refund.objects.filter(payment_id=payment_id, status__in=COUNTED_STATUSES)
        .aggregate(total=Sum("amount_minor"))
        .get("total")
    )
    return total or 0


def lost_to_disputes(*, payment_id: int) -> int:
    """Money that left the payment with lost chargebacks (the booking's disputes)."""
    booking_id = Payment.objects.filter(pk=payment_id).values_list("booking_id", flat=True)
    total = (
        Dispute.objects.filter(booking_id__in=booking_id)
        .aggregate(total=Sum("lost_amount_minor"))
        .get("total")
    )
    return total or 0


def committed_total(*, payment_id: int) -> int:
    """What no longer stays with us: non-failed refunds plus chargebacks lost. Refunds
    never take this above the captured amount."""
    return refunded_total(payment_id=payment_id) + lost_to_disputes(payment_id=payment_id)


def refundable_amount(*, payment: Payment) -> int:
    """What can still be refunded: captured minus the non-failed refunds and lost
    chargebacks (never negative)."""
    return max(payment.captured_amount_minor - committed_total(payment_id=payment.pk), 0)


def lock_payment_of_refund(refund_id: int) -> None:
    """Lock the payment of a refund: every refund and dispute change of one payment is
    serialised on the payment row (no deadlock between the task, webhooks and support)."""
    payment_id = Refund.objects.filter(pk=refund_id).values_list("payment_id", flat=True).first()
    if payment_id is not None:
        lock_payment(payment_id)


def sum_of(refunds) -> int:
    return refunds.aggregate(total=Sum("amount_minor"))["total"] or 0


def settle_payment_status(*, payment_id: int | None) -> None:
    """Tell payments what the payment's succeeded refunds add up to (its status follows:
    captured / partially_refunded / refunded). Call with the payment locked."""
    if payment_id is None:
        return
    succeeded = sum_of(Refund.objects.filter(payment_id=payment_id, status=Refund.Status.SUCCEEDED))
    record_refunded_amount(payment_id=payment_id, succeeded_minor=succeeded)
