"""The built-in offline gateway (embedded default, demos, end-to-end tests).

Orders are ``sbx_order_<hex>``; the checkout page ``/sandbox/checkout/<order_id>``
plays the gateway's hosted page. Its webhooks are Razorpay-shaped JSON signed like
Razorpay's: ``X-Sandbox-Signature`` = hex HMAC-SHA256 of the raw body keyed with
``SANDBOX_WEBHOOK_SECRET``; the event id is ``X-Sandbox-Event-Id`` or the body's
``event_id``. Refunds succeed at once with an id derived from the idempotency key.

Like a real gateway it remembers what happened to its orders (in the ``sandbox`` cache,
shared by every process, for a week), so reconciliation can ask it: the checkout page's outcome is
recorded before its webhook is sent (the *Pay, lose the webhook* button records it and
sends nothing, to show reconciliation at work).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.urls import reverse

from common.links import public_url
from payments.gateways.base import (
    GatewayEvent,
    GatewayLookup,
    InvalidSignature,
    OrderHandle,
    PaymentGateway,
    PaymentSignal,
    RefundResult,
)
from payments.gateways.razorpay_events import (
    interpret_razorpay_event,
    order_payments_lookup,
    refund_lookup,
)

SIGNATURE_HEADER = "X-Sandbox-Signature"
EVENT_ID_HEADER = "X-Sandbox-Event-Id"
SANDBOX_MEMORY_SECONDS = 7 * 24 * 3600


def _order_key(order_id: str) -> str:
    return f"sandbox-gateway:order:{order_id}:payments"


def _outcome_key(order_id: str) -> str:
    return f"sandbox-gateway:order:{order_id}:outcome"


def claim_checkout(order_id: str, outcome: str) -> bool:
    """The checkout page finishes an order once: True for the first outcome claimed
    (``captured``, ``failed``, ``captured_webhook_lost``), False when it already has one.
    ``cache.add`` is atomic, so two buttons pressed at once cannot both go through."""
    return bool(cache.add(_outcome_key(order_id), outcome, SANDBOX_MEMORY_SECONDS))


def checkout_outcome(order_id: str) -> str | None:
    """The outcome the checkout page recorded for the order, if any."""
    return cache.get(_outcome_key(order_id))


def remember_payment(entity: dict[str, Any]) -> None:
    """The sandbox "gateway" records a payment attempt of an order (what its order
    payments look-up answers). In the ``sandbox`` cache, which every process shares (the
    embedded default's local-memory cache is the server's own; reconciliation runs in
    beat or a management command)."""
    memory = caches["sandbox"]
    key = _order_key(str(entity["order_id"]))
    memory.set(key, [*(memory.get(key) or []), entity], SANDBOX_MEMORY_SECONDS)


def remembered_payments(order_id: str) -> list[dict[str, Any]]:
    """The payment attempts of an order the sandbox recorded, oldest first."""
    return caches["sandbox"].get(_order_key(order_id)) or []


def sign(body: bytes) -> str:
    """The sandbox signature of a raw body (hex HMAC-SHA256, Razorpay's scheme)."""
    return hmac.new(settings.SANDBOX_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def build_payment_webhook(*, payment, outcome: str) -> tuple[bytes, dict[str, str]]:
    """A signed ``payment.captured`` / ``payment.failed`` event for a sandbox payment,
    as the raw body and headers a gateway would deliver."""
    if outcome not in ("captured", "failed"):
        raise ValueError(outcome)
    event_id = "sbx_evt_" + secrets.token_hex(12)
    entity: dict[str, Any] = {
        "id": "sbx_pay_" + secrets.token_hex(8),
        "entity": "payment",
        "order_id": payment.order_id,
        "amount": payment.amount_minor,
        "currency": payment.currency,
        "status": outcome,
        "notes": {"booking_id": str(payment.booking_id)},
    }
    if outcome == "failed":
        entity["error_description"] = "Declined on the sandbox checkout page."
    remember_payment(entity)
    body = json.dumps(
        {
            "event_id": event_id,
            "entity": "event",
            "event": f"payment.{outcome}",
            "payload": {"payment": {"entity": entity}},
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        SIGNATURE_HEADER: sign(body),
        EVENT_ID_HEADER: event_id,
        "Content-Type": "application/json",
    }
    return body, headers


class SandboxGateway(PaymentGateway):
    name = "sandbox"
    local_orders = True

    def create_order(self, *, booking, amount_minor: int, currency: str) -> OrderHandle:
        order_id = "sbx_order_" + secrets.token_hex(10)
        return OrderHandle(
            order_id=order_id,
            # As it was when created; responses build it afresh (payments.orders.checkout_link).
            checkout_url=public_url(reverse("sandbox-checkout", args=[order_id])),
            raw={
                "id": order_id,
                "amount": amount_minor,
                "currency": currency,
                "notes": {"booking_id": str(booking.pk)},
            },
        )

    def refund(self, *, payment, amount_minor: int, idempotency_key: str) -> RefundResult:
        digest = hashlib.sha256(f"{payment.order_id}:{idempotency_key}".encode()).hexdigest()
        return RefundResult(gateway_refund_id="sbx_rfnd_" + digest[:20], status="processed")

    def look_up_order(self, *, payment) -> GatewayLookup:
        payments = remembered_payments(payment.order_id)
        answer = {"entity": "collection", "count": len(payments), "items": payments}
        return order_payments_lookup(order_id=payment.order_id, answer=answer)

    def look_up_refund(self, *, payment, gateway_refund_id: str) -> GatewayLookup:
        # Sandbox refunds are processed when they are made (see refund()).
        answer = {
            "id": gateway_refund_id,
            "entity": "refund",
            "payment_id": payment.payment_id,
            "currency": payment.currency,
            "status": "processed",
        }
        return refund_lookup(gateway_refund_id=gateway_refund_id, answer=answer)

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        signature = _header(headers, SIGNATURE_HEADER)
        # A hex digest is ASCII; compare_digest raises TypeError on a non-ASCII str.
        if (
            not signature
            or not signature.isascii()
            or not hmac.compare_digest(sign(body), signature)
        ):
            raise InvalidSignature("sandbox signature mismatch")
        try:
            payload = json.loads(body)
        except ValueError:
            raise InvalidSignature("the signed body is not JSON") from None
        if not isinstance(payload, dict):
            raise InvalidSignature("the signed body is not a JSON object")
        event_id = _header(headers, EVENT_ID_HEADER) or str(payload.get("event_id") or "")
        if not event_id:
            event_id = "sha256:" + hashlib.sha256(body).hexdigest()
        return GatewayEvent(
            event_id=event_id, event_type=str(payload.get("event") or ""), payload=payload
        )

    def interpret(self, *, event_type: str, payload: dict[str, Any]) -> list[PaymentSignal]:
        return interpret_razorpay_event(event_type=event_type, payload=payload)
