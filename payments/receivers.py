"""Reactions of payments to booking status changes (connected in ``PaymentsConfig.ready``).

They run inside the transaction of the status change (see ``bookings.signals``) and do
no I/O: gateway calls and promotions are tasks enqueued after commit.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from bookings.models import SEAT_HOLDING_STATUSES, BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.signals import booking_moved, booking_status_changed
from payments.models import Gateway, Payment
from payments.tasks import expire_gateway_order, promote_waitlist_task

# A Stripe Checkout Session lives at least 30 minutes, usually longer than our hold:
# once the booking can no longer be paid normally, close the session so the customer
# cannot pay into it (a payment that still slips through is a late capture).
CLOSE_ORDER_ON = (BookingStatus.EXPIRED, BookingStatus.CANCELLED)

# Statuses that give a booking's seats back: the next in line gets an offer.
RELEASING_STATUSES = (
    BookingStatus.EXPIRED,
    BookingStatus.PAYMENT_FAILED,
    BookingStatus.CANCELLED,
)


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
    # robust: a broker outage must not fail the committed cancel or expiry. No sweep
    # closes the session later; a payment that still slips through it is a late capture,
    # which the webhook or the reconciliation run refunds in full.
    transaction.on_commit(lambda: expire_gateway_order.delay(payment_id), robust=True)


@receiver(booking_status_changed, dispatch_uid="payments.offer_freed_seats")
def offer_freed_seats(*, booking, from_status, to_status, **kwargs) -> None:
    """Seats came free and someone waits for them: promote after commit."""
    released = (
        to_status in RELEASING_STATUSES
        and from_status in SEAT_HOLDING_STATUSES
        and not booking.holds_seats
    )
    if released:
        _promote_after_commit(slot_id=booking.slot_id)


@receiver(booking_moved, dispatch_uid="payments.offer_seats_left_by_a_move")
def offer_seats_left_by_a_move(*, from_slot, **kwargs) -> None:
    """A reschedule or reassignment freed the old slot's seats without a status change."""
    _promote_after_commit(slot_id=from_slot.pk)


def _promote_after_commit(*, slot_id: int) -> None:
    # join_waitlist locks the slot row, which this transaction has updated: a waiter
    # who joined before us is visible here, one who joins after sees the free seats.
    if not WaitlistEntry.objects.filter(slot_id=slot_id, status=WaitlistStatus.WAITING).exists():
        return
    # robust: a broker outage must not fail the committed release; the sweep recovers.
    transaction.on_commit(lambda: promote_waitlist_task.delay(slot_id), robust=True)
