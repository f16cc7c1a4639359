"""Razorpay through its SDK (orders, checkout signature, refunds, webhooks).

The SDK's errors do not carry the HTTP status, so the client's ``requests`` session
records the last response status with a hook; retryable = network error or
``is_retryable_status`` (5xx, 429, and 409: Razorpay's answer while an earlier request
with the same X-Refund-Idempotency key is still being processed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import razorpay
import requests
from django.conf import settings
from razorpay.errors import SignatureVerificationError

from payments.gateways.base import (
    GatewayError,
    GatewayEvent,
    GatewayLookup,
    InvalidSignature,
    OrderHandle,
    PaymentGateway,
    PaymentSignal,
    RefundResult,
    is_retryable_status,
)
from payments.gateways.razorpay_events import (
    interpret_razorpay_event,
    order_payments_lookup,
    refund_lookup,
)

TIMEOUT_SECONDS = 15


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


class RazorpayGateway(PaymentGateway):
    name = "razorpay"

    def _client(self) -> tuple[razorpay.Client, requests.Session]:
        session = requests.Session()
        session.last_status = None  # type: ignore[attr-defined]

        def remember_status(response, *args, **kwargs):
            session.last_status = response.status_code  # type: ignore[attr-defined]

        session.hooks["response"].append(remember_status)
        # requests has no session-wide timeout; the SDK passes none, so add one.
        original_request = session.request

        def request_with_timeout(method, url, **kwargs):
            kwargs.setdefault("timeout", TIMEOUT_SECONDS)
            return original_request(method, url, **kwargs)

        session.request = request_with_timeout  # type: ignore[method-assign]
        client = razorpay.Client(
            session=session,
            auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET),
            base_url=settings.RAZORPAY_API_BASE.rstrip("/"),
        )
        return client, session

    def _call(self, what: str, fn, *args, **kwargs) -> dict[str, Any]:
        client, session = self._client()
        try:
            return fn(client)(*args, **kwargs)
        except requests.exceptions.RequestException as exc:
            status = session.last_status  # type: ignore[attr-defined]
            # A non-JSON error body surfaces as a JSON decode error of the response.
            retryable = status is None or is_retryable_status(status)
            raise GatewayError(
                f"razorpay {what}: {exc}", retryable=retryable, status=status
            ) from exc
        except (
            razorpay.errors.BadRequestError,
            razorpay.errors.GatewayError,
            razorpay.errors.ServerError,
        ) as exc:
            status = session.last_status  # type: ignore[attr-defined]
            if status is not None:
                retryable = is_retryable_status(status)
            else:
                retryable = not isinstance(exc, razorpay.errors.BadRequestError)
            raise GatewayError(
                f"razorpay {what}: {exc}", retryable=retryable, status=status
            ) from exc

    def create_order(self, *, booking, amount_minor: int, currency: str) -> OrderHandle:
        order = self._call(
            "order",
            lambda c: c.order.create,
            {
                "amount": amount_minor,
                "currency": currency,
                "receipt": f"booking-{booking.pk}",
                "notes": {"booking_id": str(booking.pk)},
            },
        )
        return OrderHandle(order_id=order["id"], key_id=settings.RAZORPAY_KEY_ID, raw=order)

    def refund(self, *, payment, amount_minor: int, idempotency_key: str) -> RefundResult:
        if not payment.payment_id:
            raise GatewayError("razorpay refund: the payment has no payment id", retryable=False)
        # Razorpay's idempotent refunds: header X-Refund-Idempotency (>= 10 chars of
        # [A-Za-z0-9_-]); a retry with the same key and body returns the first refund.
        refund = self._call(
            "refund",
            lambda c: c.payment.refund,
            payment.payment_id,
            {
                "amount": amount_minor,
                "notes": {
                    "booking_id": str(payment.booking_id),
                    "idempotency_key": idempotency_key,
                },
            },
            headers={"X-Refund-Idempotency": idempotency_key},
        )
        status = "processed" if refund.get("status") == "processed" else "pending"
        return RefundResult(gateway_refund_id=refund["id"], status=status)

    def look_up_order(self, *, payment) -> GatewayLookup:
        # GET /v1/orders/{id}/payments: every payment attempt of the order.
        answer = self._call("order payments", lambda c: c.order.payments, payment.order_id)
        return order_payments_lookup(order_id=payment.order_id, answer=answer)

    def look_up_refund(self, *, payment, gateway_refund_id: str) -> GatewayLookup:
        # GET /v1/refunds/{id}
        answer = self._call("refund", lambda c: c.refund.fetch, gateway_refund_id)
        return refund_lookup(gateway_refund_id=gateway_refund_id, answer=answer)

    def verify_checkout_signature(self, *, order_id: str, payment_id: str, signature: str) -> None:
        if not signature.isascii():  # the SDK's compare_digest raises TypeError on it
            raise InvalidSignature("the signature is not a hex digest")
        client, _ = self._client()
        try:
            client.utility.verify_payment_signature(
                {
                    "razorpay_order_id": order_id,
                    "razorpay_payment_id": payment_id,
                    "razorpay_signature": signature,
                }
            )
        except SignatureVerificationError as exc:
            raise InvalidSignature(str(exc)) from None

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        signature = _header(headers, "X-Razorpay-Signature")
        secret = settings.RAZORPAY_WEBHOOK_SECRET
        if not signature or not secret:
            raise InvalidSignature("missing signature or webhook secret")
        if not signature.isascii():  # the SDK's compare_digest raises TypeError on it
            raise InvalidSignature("the signature is not a hex digest")
        try:
            text = body.decode("utf-8")
            razorpay.Utility().verify_webhook_signature(text, signature, secret)
        except (UnicodeDecodeError, SignatureVerificationError) as exc:
            raise InvalidSignature(str(exc)) from None
        payload = _json_object(text)
        # Razorpay retries with the same X-Razorpay-Event-Id; an unsigned-timestamp body
        # without one is identified by its digest (a byte-identical redelivery).
        event_id = (
            _header(headers, "X-Razorpay-Event-Id")
            or str(payload.get("event_id") or "")
            or "sha256:" + hashlib.sha256(body).hexdigest()
        )
        return GatewayEvent(
            event_id=event_id, event_type=str(payload.get("event") or ""), payload=payload
        )

    def interpret(self, *, event_type: str, payload: dict[str, Any]) -> list[PaymentSignal]:
        return interpret_razorpay_event(event_type=event_type, payload=payload)


def _json_object(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError:
        raise InvalidSignature("the signed body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidSignature("the signed body is not a JSON object")
    return payload
