"""Starting a booking's payment: the gateway order and the Payment row that records it.

``start_payment`` creates the order first, outside any transaction or lock, then stores
the row; checkout (``payments.checkout``) uses the steps separately so that a gateway
whose orders are local (the sandbox) stores its payment in the booking's own
transaction. Applying what the gateway reports afterwards is :mod:`payments.services`.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from bookings.models import Booking
from common.links import public_url
from payments.errors import GatewayDisabled, PaymentGatewayUnavailable
from payments.gateways import GatewayError, OrderHandle, PaymentGateway, get_gateway
from payments.models import Gateway, Payment

logger = logging.getLogger(__name__)


def payment_gateway(name: str | None) -> PaymentGateway:
    """The gateway a payment is started with (``PAYMENT_DEFAULT_GATEWAY`` when None).

    Raises :class:`~payments.gateways.UnknownGateway` (400) for a bad name and
    :class:`GatewayDisabled` (400) for the sandbox when it is not enabled.
    """
    name = name or settings.PAYMENT_DEFAULT_GATEWAY
    if name == Gateway.SANDBOX and not settings.PAYMENT_SANDBOX_ENABLED:
        raise GatewayDisabled(
            "The sandbox gateway is disabled (PAYMENT_SANDBOX_ENABLED).",
            errors={"gateway": ["Not enabled."]},
        )
    return get_gateway(name)


def create_order(*, booking: Booking, gateway: PaymentGateway) -> OrderHandle:
    """Create the gateway order of ``booking`` (HTTP for Razorpay and Stripe: call it
    outside any transaction; the sandbox's ``local_orders`` make none).

    Raises :class:`PaymentGatewayUnavailable` (503) when the gateway refused or could not
    be reached.
    """
    try:
        return gateway.create_order(
            booking=booking, amount_minor=booking.amount_minor, currency=booking.currency
        )
    except GatewayError as exc:
        logger.warning("booking %s: %s order failed: %s", booking.pk, gateway.name, exc)
        raise PaymentGatewayUnavailable(
            f"The {gateway.name} gateway could not create the order."
        ) from exc


def checkout_link(payment: Payment) -> str | None:
    """Where the customer pays: the sandbox's page, built now from ``PUBLIC_BASE_URL`` or
    the request being served (:mod:`common.links`), so a link shown after a restart on
    another port works; a gateway's hosted page as the gateway gave it (Stripe); None
    for Razorpay, whose Checkout runs in the client."""
    if payment.gateway == Gateway.SANDBOX:
        return public_url(reverse("sandbox-checkout", args=[payment.order_id]))
    return payment.checkout_url or None


def record_payment(*, booking: Booking, gateway: PaymentGateway, order: OrderHandle) -> Payment:
    """Store the payment of a booking that has none yet, in the caller's transaction (one
    INSERT; a second payment for the booking violates the one-to-one constraint).
    ``booking.payment`` is the new row afterwards."""
    return Payment.objects.create(
        booking=booking,
        gateway=gateway.name,
        order_id=order.order_id,
        amount_minor=booking.amount_minor,
        currency=booking.currency,
        checkout_url=order.checkout_url or "",
        raw=order.raw,
    )


def start_payment(*, booking: Booking, gateway: str | None = None) -> Payment:
    """Create the gateway order of ``booking`` and store its :class:`Payment`.

    Idempotent per booking: a booking that already has a payment gets it back (no
    gateway call). The gateway order is created first, outside any transaction or
    lock (call this after the booking committed); then the row is inserted. Of two
    concurrent calls for one booking the second insert hits the one-to-one
    constraint and returns the winner's row (the loser's gateway order is never used;
    Stripe even returns the same session thanks to the idempotency key).

    Raises :class:`~payments.gateways.UnknownGateway` (400) for a bad name,
    :class:`GatewayDisabled` (400) for the sandbox when it is not enabled, and
    :class:`PaymentGatewayUnavailable` (503) when the gateway refused or could not be
    reached (nothing is stored then).
    """
    existing = Payment.objects.filter(booking_id=booking.pk).first()
    if existing is not None:
        return existing
    chosen = payment_gateway(gateway)
    order = create_order(booking=booking, gateway=chosen)
    try:
        with transaction.atomic():
            return record_payment(booking=booking, gateway=chosen, order=order)
    except IntegrityError:
        winner = Payment.objects.filter(booking_id=booking.pk).first()
        if winner is None:
            raise
        logger.info(
            "booking %s: concurrent start_payment, order %s unused", booking.pk, order.order_id
        )
        return winner
