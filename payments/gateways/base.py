"""The gateway interface and the value objects that cross it."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from common.problems import InvalidRequest

# Besides 5xx, two 4xx answers are retried on purpose, with the same idempotency key:
# 429, rate limited, nothing was done; 409, an earlier request with the same idempotency
# key is still being processed (Stripe and Razorpay both say to retry). Any other 4xx
# is final.
RETRYABLE_4XX = (409, 429)


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP error status from a gateway is worth a retry (see RETRYABLE_4XX)."""
    return status >= 500 or status in RETRYABLE_4XX


class GatewayError(Exception):
    """A gateway call failed. ``retryable`` is True for network errors, timeouts and
    :func:`is_retryable_status` answers (try again later with the same idempotency key),
    False for every other 4xx."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class InvalidSignature(Exception):
    """A webhook (or checkout callback) failed its gateway's signature check."""


class MalformedEvent(Exception):
    """A correctly signed event whose body does not have the shape its type promises.

    Recorded as ignored with the reason and answered 200: the gateway's retry would carry
    the same body."""


class UnknownGateway(InvalidRequest):
    code = "unknown_gateway"
    title = "Unknown payment gateway"


@dataclass(frozen=True)
class OrderHandle:
    """What the client needs to pay: the gateway order/session id and how to open it."""

    order_id: str
    checkout_url: str | None = None
    key_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    gateway_refund_id: str
    status: Literal["processed", "pending"]


@dataclass(frozen=True)
class GatewayEvent:
    """A verified incoming webhook: its id (unique per gateway), type and parsed body."""

    event_id: str
    event_type: str
    payload: dict[str, Any]


class SignalKind(enum.StrEnum):
    CAPTURED = "captured"
    FAILED = "failed"
    REFUND_PROCESSED = "refund_processed"
    REFUND_FAILED = "refund_failed"
    # The gateway's running total refunded on a payment (amount_minor), naming no refund.
    REFUNDED_TOTAL = "refunded_total"
    DISPUTE = "dispute"


@dataclass(frozen=True)
class PaymentSignal:
    """What a webhook means for us, independent of the gateway's payload shape.

    The payment is found by ``order_id`` (our stored order/session id), else by
    ``payment_id``, else by ``booking_id`` (from notes/metadata).
    """

    kind: SignalKind
    order_id: str = ""
    payment_id: str = ""
    booking_id: int | None = None
    amount_minor: int | None = None
    currency: str = ""
    refund_id: str = ""
    # The idempotency key we sent with the refund (Razorpay notes / Stripe metadata
    # ``idempotency_key``): names our refund row exactly, unlike the amount.
    refund_reference: str = ""
    dispute_id: str = ""
    reason: str = ""
    # Disputes: the gateway's status (Stripe ``needs_response``/``won``/``lost``...,
    # Razorpay ``open``/``under_review``/``won``/``lost``/``closed``) and the evidence
    # deadline (unix seconds), when the event carries them.
    dispute_status: str = ""
    evidence_due_by: int | None = None


@dataclass(frozen=True)
class GatewayLookup:
    """A gateway's answer to a look-up (:meth:`PaymentGateway.look_up_order`,
    :meth:`PaymentGateway.look_up_refund`), already read: the signals it means, applied
    exactly like a webhook's; ``unsettled``, what it shows that no signal settles (e.g.
    a payment authorised but never captured), for support; ``raw``, the answer as the
    gateway gave it, kept in the ledger."""

    signals: tuple[PaymentSignal, ...] = ()
    unsettled: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


class PaymentGateway(ABC):
    """One payment gateway. Implementations never touch the database."""

    name: str
    # True when create_order makes the order locally (no HTTP, no failure to expect): the
    # checkout then stores the payment in the booking's own transaction.
    local_orders: bool = False

    @abstractmethod
    def create_order(self, *, booking, amount_minor: int, currency: str) -> OrderHandle:
        """Create the gateway order/session for ``booking``; raises :class:`GatewayError`."""

    @abstractmethod
    def refund(self, *, payment, amount_minor: int, idempotency_key: str) -> RefundResult:
        """Refund ``amount_minor`` of ``payment``; the same ``idempotency_key`` never
        refunds twice at the gateway. The key also goes into the refund's notes/metadata
        as ``idempotency_key``, so refund webhooks name our refund
        (``PaymentSignal.refund_reference``). Raises :class:`GatewayError`."""

    @abstractmethod
    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Check the signature of a raw webhook body; raises :class:`InvalidSignature`."""

    @abstractmethod
    def interpret(self, *, event_type: str, payload: dict[str, Any]) -> list[PaymentSignal]:
        """Map a verified event to what it means for us; ``[]`` for types we ignore.
        Raises :class:`MalformedEvent` when the body does not have its type's shape."""

    def verify_checkout_signature(self, *, order_id: str, payment_id: str, signature: str) -> None:
        """Check a client-side checkout callback (Razorpay only); raises
        :class:`InvalidSignature`."""
        raise InvalidSignature(f"{self.name} has no checkout signature")

    @abstractmethod
    def look_up_order(self, *, payment) -> GatewayLookup:
        """What the gateway knows about the order/session of ``payment``: a CAPTURED
        signal when it was paid, FAILED when every attempt failed, nothing while it is
        open. Raises :class:`GatewayError` for an error or an answer that cannot be read
        (``retryable=True``: ask again on the next run)."""

    @abstractmethod
    def look_up_refund(self, *, payment, gateway_refund_id: str) -> GatewayLookup:
        """What the gateway knows about one refund: REFUND_PROCESSED / REFUND_FAILED
        when it is final, nothing while it is pending. Raises :class:`GatewayError`."""

    def expire_order(self, *, payment) -> None:  # noqa: B027 - optional hook
        """Stop the order from being paid any more, where the gateway allows it."""
