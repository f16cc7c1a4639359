"""Stripe through its SDK: Checkout Sessions, refunds, signed webhooks.

A ``StripeClient`` per call with ``api_base`` from ``STRIPE_API_BASE`` and the
``requests`` HTTP client forced (so a fake server or ``responses`` can stand in),
and no SDK-side retries: the refund task owns retrying, with our idempotency key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.utils import timezone

from common.links import public_url
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
    is_retryable_status,
)

TIMEOUT_SECONDS = 15
# Stripe refuses a Checkout Session that expires sooner than 30 minutes from now.
MIN_SESSION_MINUTES = 31
SIGNATURE_TOLERANCE_SECONDS = 300


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def _gateway_error(what: str, exc: stripe.StripeError) -> GatewayError:
    status = exc.http_status
    if isinstance(exc, stripe.APIConnectionError) or status is None:
        retryable = True
    else:
        # 409 from Stripe: a request with the same idempotency key is still in progress
        # (or a lock timed out); the retry gets its answer.
        retryable = is_retryable_status(status)
    return GatewayError(f"stripe {what}: {exc}", retryable=retryable, status=status)


def _booking_id(obj: dict[str, Any]) -> int | None:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and str(metadata.get("booking_id", "")).isdigit():
        return int(metadata["booking_id"])
    return None


def _amount(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _id(value: Any) -> str:
    """An expandable field: an id string or an expanded object with an id."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _checkout_idempotency_key(booking) -> str:
    created = int(booking.created_at.timestamp()) if booking.created_at else 0
    return f"slotwise-booking-{booking.pk}-{created}-checkout"


class StripeGateway(PaymentGateway):
    name = "stripe"

    def _client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY or "sk_missing",
            base_addresses={"api": settings.STRIPE_API_BASE.rstrip("/")},
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
            max_network_retries=0,
        )

    def create_order(self, *, booking, amount_minor: int, currency: str) -> OrderHandle:
        now = timezone.now()
        expires_at = max(
            booking.hold_expires_at or now, now + timedelta(minutes=MIN_SESSION_MINUTES)
        )
        expires_at = min(expires_at, now + timedelta(hours=23))
        metadata = {"booking_id": str(booking.pk)}
        return_url = public_url("/sandbox/return/{CHECKOUT_SESSION_ID}")
        try:
            session = self._client().v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "client_reference_id": str(booking.pk),
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": currency.lower(),
                                "unit_amount": amount_minor,
                                "product_data": {"name": f"Slotwise booking #{booking.pk}"},
                            },
                        }
                    ],
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "expires_at": int(expires_at.timestamp()),
                    "success_url": return_url,
                    "cancel_url": return_url,
                },
                # A retried create (timeout, lost response) returns the same session; the
                # creation time keeps keys unique across databases that reuse booking ids.
                options={"idempotency_key": _checkout_idempotency_key(booking)},
            )
        except stripe.StripeError as exc:
            raise _gateway_error("checkout session", exc) from None
        raw = session.to_dict()
        return OrderHandle(order_id=raw["id"], checkout_url=raw.get("url"), raw=raw)

    def refund(self, *, payment, amount_minor: int, idempotency_key: str) -> RefundResult:
        if not payment.payment_id:
            raise GatewayError("stripe refund: the payment has no payment intent", retryable=False)
        try:
            refund = self._client().v1.refunds.create(
                params={
                    "payment_intent": payment.payment_id,
                    "amount": amount_minor,
                    # The key names our refund in refund webhooks (refund_reference).
                    "metadata": {
                        "booking_id": str(payment.booking_id),
                        "idempotency_key": idempotency_key,
                    },
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _gateway_error("refund", exc) from None
        raw = refund.to_dict()
        if raw.get("status") in ("failed", "canceled"):
            raise GatewayError(f"stripe refund {raw['id']} {raw['status']}", retryable=False)
        status = "processed" if raw.get("status") == "succeeded" else "pending"
        return RefundResult(gateway_refund_id=raw["id"], status=status)

    def look_up_order(self, *, payment) -> GatewayLookup:
        """The Checkout Session with its PaymentIntent expanded: ``payment_status`` paid
        is a capture (as ``checkout.session.completed`` says it); an open, expired or
        unpaid session settles nothing."""
        try:
            session = self._client().v1.checkout.sessions.retrieve(
                payment.order_id, params={"expand": ["payment_intent"]}
            )
        except stripe.StripeError as exc:
            raise _gateway_error("checkout session look-up", exc) from None
        raw = session.to_dict()
        if raw.get("id") != payment.order_id or "payment_status" not in raw:
            raise GatewayError(
                f"stripe session {payment.order_id}: the answer cannot be read", retryable=True
            )
        if raw.get("payment_status") != "paid":
            return GatewayLookup(raw=raw)
        intent = raw.get("payment_intent")
        amount = _amount(raw.get("amount_total"))
        if isinstance(intent, dict) and _amount(intent.get("amount_received")) is not None:
            amount = _amount(intent.get("amount_received"))
        signal = PaymentSignal(
            kind=SignalKind.CAPTURED,
            order_id=payment.order_id,
            payment_id=_id(intent),
            booking_id=_booking_id(raw),
            amount_minor=amount,
            currency=str(raw.get("currency") or "").upper(),
        )
        return GatewayLookup(signals=(signal,), raw=raw)

    def look_up_refund(self, *, payment, gateway_refund_id: str) -> GatewayLookup:
        """The refund: ``succeeded`` / ``failed`` / ``canceled`` are final (as its
        ``refund.updated`` event says); ``pending`` and ``requires_action`` settle nothing."""
        try:
            refund = self._client().v1.refunds.retrieve(gateway_refund_id)
        except stripe.StripeError as exc:
            raise _gateway_error("refund look-up", exc) from None
        raw = refund.to_dict()
        if raw.get("id") != gateway_refund_id:
            raise GatewayError(
                f"stripe refund {gateway_refund_id}: the answer cannot be read", retryable=True
            )
        status = raw.get("status")
        if status not in ("succeeded", "failed", "canceled"):
            return GatewayLookup(raw=raw)
        obj = {**raw, "status": "succeeded" if status == "succeeded" else "failed"}
        return GatewayLookup(
            signals=(_refund_signal(obj, payment_id=_id(raw.get("payment_intent"))),), raw=raw
        )

    def expire_order(self, *, payment) -> None:
        try:
            self._client().v1.checkout.sessions.expire(payment.order_id)
        except stripe.StripeError as exc:
            raise _gateway_error("expire session", exc) from None

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        secret = settings.STRIPE_WEBHOOK_SECRET
        signature = _header(headers, "Stripe-Signature")
        if not secret or not signature:
            raise InvalidSignature("missing signature or webhook secret")
        if not signature.isascii():  # the SDK's compare_digest raises TypeError on it
            raise InvalidSignature("the signature header is not ASCII")
        try:
            stripe.Webhook.construct_event(
                body, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
            )
            payload = json.loads(body)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise InvalidSignature(str(exc)) from None
        if not isinstance(payload, dict) or not payload.get("id"):
            raise InvalidSignature("the signed body is not a Stripe event")
        return GatewayEvent(
            event_id=str(payload["id"]), event_type=str(payload.get("type") or ""), payload=payload
        )

    def interpret(self, *, event_type: str, payload: dict[str, Any]) -> list[PaymentSignal]:
        data = payload.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            raise MalformedEvent("data.object is not an object")
        obj = data["object"]
        if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            # A completed session with a delayed method is not paid yet.
            if obj.get("payment_status") != "paid":
                return []
            return [
                PaymentSignal(
                    kind=SignalKind.CAPTURED,
                    order_id=str(obj.get("id") or ""),
                    payment_id=_id(obj.get("payment_intent")),
                    booking_id=_booking_id(obj),
                    amount_minor=_amount(obj.get("amount_total")),
                    currency=str(obj.get("currency") or "").upper(),
                )
            ]
        if event_type == "checkout.session.async_payment_failed":
            return [
                PaymentSignal(
                    kind=SignalKind.FAILED,
                    order_id=str(obj.get("id") or ""),
                    booking_id=_booking_id(obj),
                    reason="async payment failed",
                )
            ]
        if event_type == "payment_intent.succeeded":
            return [
                PaymentSignal(
                    kind=SignalKind.CAPTURED,
                    payment_id=str(obj.get("id") or ""),
                    booking_id=_booking_id(obj),
                    amount_minor=_amount(obj.get("amount_received")),
                    currency=str(obj.get("currency") or "").upper(),
                )
            ]
        if event_type == "payment_intent.payment_failed":
            error = obj.get("last_payment_error")
            error = error if isinstance(error, dict) else {}
            return [
                PaymentSignal(
                    kind=SignalKind.FAILED,
                    payment_id=str(obj.get("id") or ""),
                    booking_id=_booking_id(obj),
                    reason=str(error.get("message") or "payment failed"),
                )
            ]
        if event_type == "charge.refunded":
            return _charge_refunded_signals(obj)
        if event_type in ("refund.updated", "refund.failed", "charge.refund.updated"):
            if obj.get("status") not in ("succeeded", "failed"):
                return []
            return [_refund_signal(obj, payment_id=_id(obj.get("payment_intent")))]
        if event_type in DISPUTE_EVENTS:
            details = obj.get("evidence_details")
            due_by = details.get("due_by") if isinstance(details, dict) else None
            return [
                PaymentSignal(
                    kind=SignalKind.DISPUTE,
                    payment_id=_id(obj.get("payment_intent")),
                    amount_minor=_amount(obj.get("amount")),
                    currency=str(obj.get("currency") or "").upper(),
                    dispute_id=str(obj.get("id") or ""),
                    reason=str(obj.get("reason") or "chargeback"),
                    dispute_status=str(obj.get("status") or ""),
                    evidence_due_by=_amount(due_by),
                )
            ]
        return []


# Every dispute event carries the dispute as it now stands (status, amount, due date).
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)


def _metadata(obj: dict[str, Any], name: str) -> str:
    metadata = obj.get("metadata")
    return str(metadata.get(name) or "") if isinstance(metadata, dict) else ""


def _charge_refunded_signals(charge: dict[str, Any]) -> list[PaymentSignal]:
    """``charge.refunded``: since API version 2022-11-15 a Charge no longer carries its
    ``refunds`` list (only when expanded, which webhooks never are), so what Stripe sends
    is the running total ``amount_refunded`` of the ``payment_intent``: that total settles
    our refunds (no API call while handling a webhook). An expanded list, as older API
    versions sent it, is still reconciled refund by refund."""
    payment_id = _id(charge.get("payment_intent"))
    refunds = charge.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, dict) else None
    if listed:
        return [
            _refund_signal(refund, payment_id=payment_id)
            for refund in listed
            if isinstance(refund, dict) and refund.get("status") in ("succeeded", "failed")
        ]
    total = _amount(charge.get("amount_refunded"))
    if total is None or not payment_id:
        return []
    return [
        PaymentSignal(
            kind=SignalKind.REFUNDED_TOTAL,
            payment_id=payment_id,
            amount_minor=total,
            currency=str(charge.get("currency") or "").upper(),
        )
    ]


def _refund_signal(refund: dict[str, Any], *, payment_id: str) -> PaymentSignal:
    succeeded = refund.get("status") == "succeeded"
    return PaymentSignal(
        kind=SignalKind.REFUND_PROCESSED if succeeded else SignalKind.REFUND_FAILED,
        payment_id=payment_id or _id(refund.get("payment_intent")),
        booking_id=_booking_id(refund),
        amount_minor=_amount(refund.get("amount")),
        currency=str(refund.get("currency") or "").upper(),
        refund_id=str(refund.get("id") or ""),
        refund_reference=_metadata(refund, "idempotency_key"),
        reason=str(refund.get("failure_reason") or refund.get("status") or ""),
    )
