"""Checkout: book a slot, start its payment, and undo the booking when no payment can start.

The one place the booking -> payment sequence lives (the view only validates and renders).
"""

from __future__ import annotations

from bookings.models import Booking
from bookings.services import abandon_booking, book_slot
from payments.services import start_payment


def place_booking(
    *, customer, slot_id: int, variant_id: int, quantity: int, gateway: str | None = None
) -> Booking:
    """Book ``quantity`` seats of a slot for ``customer`` and start the booking's payment.

    Two steps, because the gateway's order is created over HTTP and no HTTP call may run
    inside a transaction or under a lock: :func:`bookings.services.book_slot` commits the
    PENDING_PAYMENT booking (seats held), then :func:`payments.services.start_payment`
    creates the order and stores the payment. When the payment cannot start (gateway
    down: 503 ``payment_gateway_unavailable``; bad or disabled gateway: 400), or anything
    else interrupts it, the booking is abandoned (seats back at once) and the error
    propagates, so a retry with the same Idempotency-Key starts clean. Booking errors
    (404 ``slot_not_found``, 400, 409 ``slot_unavailable``...) change nothing.
    """
    booking = book_slot(
        customer=customer, slot_id=slot_id, variant_id=variant_id, quantity=quantity
    )
    try:
        start_payment(booking=booking, gateway=gateway)
    except BaseException:
        abandon_booking(booking_id=booking.pk, reason="Payment could not be started.")
        raise
    return booking
