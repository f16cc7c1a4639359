"""Checkout: book a slot, start its payment, and undo the booking when no payment can start.

The one place the booking -> payment sequence lives (the view only validates and renders).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from bookings.models import Booking
from bookings.services import abandon_booking, book_slot
from payments.errors import GatewayDisabled
from payments.gateways import PaymentGateway, UnknownGateway
from payments.orders import create_order, payment_gateway, record_payment

BookingHook = Callable[[Booking], None]


def place_booking(
    *,
    customer,
    slot_id: int,
    variant_id: int,
    quantity: int,
    seat_type: str | None = None,
    gateway: str | None = None,
    record_pending: BookingHook | None = None,
    record_placed: BookingHook | None = None,
) -> Booking:
    """Book ``quantity`` seats (of ``seat_type``) of a slot for ``customer`` and start the
    booking's payment.

    A gateway whose orders are made locally (the sandbox) gets its payment stored in the
    booking's own transaction: one commit. Any other creates its order over HTTP, and no
    HTTP call may run inside a transaction or under a lock, so that takes two:
    :func:`bookings.services.book_slot` commits the PENDING_PAYMENT booking (seats held),
    the order is created, and the payment is stored. When the payment cannot start
    (gateway down: 503 ``payment_gateway_unavailable``; bad or disabled gateway: 400,
    refused after the booking as it always was), or anything else interrupts it, the
    committed booking is abandoned (seats back at once) and the error propagates, so a
    retry with the same Idempotency-Key starts clean. Booking errors (404
    ``slot_not_found``, 400, 409 ``slot_unavailable``...) change nothing.

    The caller's hooks run inside those transactions, as their last writes (the view
    writes the request's Idempotency-Key there, so the key costs no commit of its own):
    ``record_pending(booking)`` in the booking's transaction when it commits before the
    payment exists; ``record_placed(booking)`` in the transaction that stores the payment,
    ``booking.payment`` set. What they raise rolls their transaction back.

    The booking comes back with its slot, payment and ``created`` event in hand
    (:func:`bookings.serializers.new_booking_data` shows it without a query).
    """
    chosen = _known_gateway(gateway)
    if chosen is not None and chosen.local_orders:

        def store_payment(booking: Booking) -> None:
            order = create_order(booking=booking, gateway=chosen)
            record_payment(booking=booking, gateway=chosen, order=order)
            if record_placed is not None:
                record_placed(booking)

        return book_slot(
            customer=customer,
            slot_id=slot_id,
            variant_id=variant_id,
            quantity=quantity,
            seat_type=seat_type,
            before_commit=store_payment,
        )

    booking = book_slot(
        customer=customer,
        slot_id=slot_id,
        variant_id=variant_id,
        quantity=quantity,
        seat_type=seat_type,
        before_commit=record_pending,
    )
    try:
        chosen = chosen or payment_gateway(gateway)  # a refused gateway raises here
        order = create_order(booking=booking, gateway=chosen)
        with transaction.atomic():
            record_payment(booking=booking, gateway=chosen, order=order)
            if record_placed is not None:
                record_placed(booking)
    except BaseException:
        abandon_booking(booking_id=booking.pk, reason="Payment could not be started.")
        raise
    return booking


def _known_gateway(name: str | None) -> PaymentGateway | None:
    try:
        return payment_gateway(name)
    except (GatewayDisabled, UnknownGateway):
        return None
