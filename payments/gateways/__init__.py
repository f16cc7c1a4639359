"""Payment gateways behind one small interface, chosen by name.

Only the modules of this package import a gateway SDK (``razorpay``, ``stripe``);
the rest of Slotwise talks to :class:`PaymentGateway` through :func:`get_gateway`.
Every outbound call goes to the base URL in settings (``RAZORPAY_API_BASE``,
``STRIPE_API_BASE``) so a fake server, or ``responses`` in tests, can stand in.
"""

from __future__ import annotations

from payments.gateways.base import (
    GatewayError,
    GatewayEvent,
    GatewayLookup,
    InvalidSignature,
    MalformedEvent,
    OrderHandle,
    PaymentGateway,
    PaymentSignal,
    RefundResult,
    SignalKind,
    UnknownGateway,
)

GATEWAY_NAMES = ("razorpay", "stripe", "sandbox")


def get_gateway(name: str) -> PaymentGateway:
    """The gateway called ``name`` (``razorpay``, ``stripe`` or ``sandbox``).

    Raises :class:`UnknownGateway` (400 ``unknown_gateway``) for any other name.
    """
    if name == "razorpay":
        from payments.gateways.razorpay import RazorpayGateway

        return RazorpayGateway()
    if name == "stripe":
        from payments.gateways.stripe import StripeGateway

        return StripeGateway()
    if name == "sandbox":
        from payments.gateways.sandbox import SandboxGateway

        return SandboxGateway()
    raise UnknownGateway(
        f"Unknown payment gateway {name!r}.", errors={"gateway": [f"One of {GATEWAY_NAMES}."]}
    )


__all__ = [
    "GATEWAY_NAMES",
    "GatewayError",
    "GatewayEvent",
    "GatewayLookup",
    "InvalidSignature",
    "MalformedEvent",
    "OrderHandle",
    "PaymentGateway",
    "PaymentSignal",
    "RefundResult",
    "SignalKind",
    "UnknownGateway",
    "get_gateway",
]
