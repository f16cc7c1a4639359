"""Reactions of payments to booking status changes (no I/O here: tasks after commit)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from bookings.models import BookingStatus
from bookings.signals import booking_status_changed
from payments.models import Gateway, Payment

# A Stripe Checkout Session lives at least 30 minutes, usually longer than our hold:
# once the booking can no longer be paid normally, close the session so the customer
# cannot pay into it (a payment that still slips through is a late capture).
CLOSE_ORDER_ON = (BookingStatus.EXPIRED, BookingStatus.CANCELLED)


@receiver(booking_status_changed, dispatch_uid="payments.close_gateway_order")
def close_gateway_order(*, booking, from_status, to_status, **kwargs) -> None:
    if to_status not in CLOSE_ORDER_ON or from_status != BookingStatus.PENDING_PAYMENT:
        return
    payment_id = (
        Payment.objects.filter(
            booking_id=booking.pk, gateway=Gateway.STRIPE, status=Payment.Status.CREATED
        )
        .values_list("pk", flat=True)
        .first()
    )
    if payment_id is None:
        return
    from payments.tasks import expire_gateway_order

    transaction.on_commit(lambda: expire_gateway_order.delay(payment_id))
