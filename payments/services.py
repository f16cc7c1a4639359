"""Payment operations: start a booking's payment, apply gateway outcomes.

Booking status changes go through :mod:`bookings.transitions`; refunds and disputes
through :mod:`refunds.services`. No gateway HTTP runs inside a transaction here.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from bookings.models import Booking
from payments.gateways import get_gateway
from payments.models import Payment

logger = logging.getLogger(__name__)


def start_payment(*, booking: Booking, gateway: str | None = None) -> Payment:
    """Create the gateway order of ``booking`` and store its :class:`Payment`.

    Idempotent per booking: a booking that already has a payment gets it back (no
    gateway call). The gateway order is created first, outside any transaction or
    lock (call this after the booking committed); then the row is inserted. Of two
    concurrent calls for one booking the second insert hits the one-to-one
    constraint and returns the winner's row (the loser's gateway order is never used;
    Stripe even returns the same session thanks to the idempotency key).

    Raises :class:`~payments.gateways.UnknownGateway` (400) for a bad name and
    :class:`~payments.gateways.GatewayError` when the gateway cannot be reached.
    """
    existing = Payment.objects.filter(booking_id=booking.pk).first()
    if existing is not None:
        return existing
    name = gateway or settings.PAYMENT_DEFAULT_GATEWAY
    handle = get_gateway(name).create_order(
        booking=booking, amount_minor=booking.amount_minor, currency=booking.currency
    )
    raw = dict(handle.raw)
    if handle.key_id:
        raw["_key_id"] = handle.key_id
    try:
        with transaction.atomic():
            return Payment.objects.create(
                booking=booking,
                gateway=name,
                order_id=handle.order_id,
                amount_minor=booking.amount_minor,
                currency=booking.currency,
                checkout_url=handle.checkout_url or "",
                raw=raw,
            )
    except IntegrityError:
        winner = Payment.objects.filter(booking_id=booking.pk).first()
        if winner is None:
            raise
        logger.info(
            "booking %s: concurrent start_payment, order %s unused", booking.pk, handle.order_id
        )
        return winner
