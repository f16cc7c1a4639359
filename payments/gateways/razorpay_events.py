"""Razorpay-shaped webhook payloads -> :class:`PaymentSignal` (no SDK needed).

The sandbox gateway sends the same shapes, so both share this mapping::

    {"event": "payment.captured", "payload": {"payment": {"entity": {...}}}}
"""

from __future__ import annotations

from typing import Any

from payments.gateways.base import (
    GatewayError,
    GatewayLookup,
    MalformedEvent,
    PaymentSignal,
    SignalKind,
)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entity(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """``payload.<name>.entity``, or ``{}`` when the event has none."""
    return _object(_object(_object(payload.get("payload")).get(name)).get("entity"))


def _check_shape(payload: dict[str, Any], *names: str) -> None:
    """Refuse an event whose ``payload.<name>`` is there but is not ``{"entity": {...}}``."""
    if "payload" in payload and not isinstance(payload["payload"], dict):
        raise MalformedEvent("payload is not an object")
    body = _object(payload.get("payload"))
    for name in names:
        if name in body and not isinstance(_object(body[name]).get("entity"), dict):
            raise MalformedEvent(f"payload.{name}.entity is not an object")


def _booking_id(*entities: dict[str, Any]) -> int | None:
    for entity in entities:
        notes = entity.get("notes")
        if isinstance(notes, dict) and str(notes.get("booking_id", "")).isdigit():
            return int(notes["booking_id"])
    return None


def _note(entity: dict[str, Any], name: str) -> str:
    notes = entity.get("notes")
    return str(notes.get(name) or "") if isinstance(notes, dict) else ""


def _amount(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# Razorpay's dispute events -> the dispute status each one reports.
DISPUTE_EVENTS = {
    "payment.dispute.created": "open",
    "payment.dispute.under_review": "under_review",
    "payment.dispute.action_required": "open",
    "payment.dispute.won": "won",
    "payment.dispute.lost": "lost",
    "payment.dispute.closed": "closed",
}


def interpret_razorpay_event(*, event_type: str, payload: dict[str, Any]) -> list[PaymentSignal]:
    signal = _signal(event_type=event_type, payload=payload)
    return [signal] if signal is not None else []


def _signal(*, event_type: str, payload: dict[str, Any]) -> PaymentSignal | None:
    _check_shape(payload, "payment", "order", "refund", "dispute")
    payment = _entity(payload, "payment")
    if event_type in ("payment.captured", "order.paid"):
        order = _entity(payload, "order")
        return PaymentSignal(
            kind=SignalKind.CAPTURED,
            order_id=str(payment.get("order_id") or order.get("id") or ""),
            payment_id=str(payment.get("id") or ""),
            booking_id=_booking_id(payment, order),
            amount_minor=_amount(payment.get("amount", order.get("amount_paid"))),
            currency=str(payment.get("currency") or order.get("currency") or "").upper(),
        )
    if event_type == "payment.failed":
        return PaymentSignal(
            kind=SignalKind.FAILED,
            order_id=str(payment.get("order_id") or ""),
            payment_id=str(payment.get("id") or ""),
            booking_id=_booking_id(payment),
            reason=str(payment.get("error_description") or payment.get("error_reason") or ""),
        )
    if event_type in ("refund.processed", "refund.failed"):
        refund = _entity(payload, "refund")
        return PaymentSignal(
            kind=(
                SignalKind.REFUND_PROCESSED
                if event_type == "refund.processed"
                else SignalKind.REFUND_FAILED
            ),
            order_id=str(payment.get("order_id") or ""),
            payment_id=str(refund.get("payment_id") or payment.get("id") or ""),
            booking_id=_booking_id(refund, payment),
            amount_minor=_amount(refund.get("amount")),
            currency=str(refund.get("currency") or "").upper(),
            refund_id=str(refund.get("id") or ""),
            refund_reference=_note(refund, "idempotency_key"),
            reason=event_type,
        )
    if event_type in DISPUTE_EVENTS:
        dispute = _entity(payload, "dispute")
        return PaymentSignal(
            kind=SignalKind.DISPUTE,
            order_id=str(payment.get("order_id") or ""),
            payment_id=str(dispute.get("payment_id") or payment.get("id") or ""),
            booking_id=_booking_id(payment),
            amount_minor=_amount(dispute.get("amount")),
            currency=str(dispute.get("currency") or payment.get("currency") or "").upper(),
            dispute_id=str(dispute.get("id") or ""),
            reason=str(
                dispute.get("reason_description") or dispute.get("reason_code") or "chargeback"
            ),
            # The entity's status; the event's name says it when the entity lacks one.
            dispute_status=str(dispute.get("status") or DISPUTE_EVENTS[event_type]),
            evidence_due_by=_amount(dispute.get("respond_by")),
        )
    return None


# --- look-ups (reconciliation): Razorpay-shaped answers -> GatewayLookup --------------------


def _unreadable(what: str) -> GatewayError:
    return GatewayError(f"{what}: the gateway's answer cannot be read", retryable=True)


def order_payments_lookup(*, order_id: str, answer: Any) -> GatewayLookup:
    """``GET /v1/orders/{id}/payments`` (a collection of payment entities) -> what it
    means: the captured payment (``captured``, or ``refunded`` since, was captured) as a
    CAPTURED signal; when every attempt failed, FAILED; a payment only ``authorized``, or a
    second captured payment of the order, is money no signal settles (``unsettled``).
    Raises :class:`GatewayError` (retryable) for an answer of another shape."""
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _unreadable(f"razorpay order {order_id} payments")
    captured = [
        item
        for item in items
        if item.get("status") in ("captured", "refunded") or item.get("captured") is True
    ]
    signals: list[PaymentSignal] = []
    unsettled: list[str] = []
    if captured:
        first = captured[0]
        if not first.get("id"):
            raise _unreadable(f"razorpay order {order_id} payments")
        signals.append(
            PaymentSignal(
                kind=SignalKind.CAPTURED,
                order_id=order_id,
                payment_id=str(first["id"]),
                booking_id=_booking_id(first),
                amount_minor=_amount(first.get("amount")),
                currency=str(first.get("currency") or "").upper(),
            )
        )
        unsettled.extend(
            f"Payment {item.get('id')} is a second capture of order {order_id}."
            for item in captured[1:]
        )
    else:
        unsettled.extend(
            f"Payment {item.get('id')} of order {order_id} is authorized but not captured."
            for item in items
            if item.get("status") == "authorized"
        )
        if items and all(item.get("status") == "failed" for item in items):
            last = items[-1]
            signals.append(
                PaymentSignal(
                    kind=SignalKind.FAILED,
                    order_id=order_id,
                    payment_id=str(last.get("id") or ""),
                    booking_id=_booking_id(last),
                    reason=str(last.get("error_description") or last.get("error_reason") or ""),
                )
            )
    return GatewayLookup(signals=tuple(signals), unsettled=tuple(unsettled), raw=answer)


def refund_lookup(*, gateway_refund_id: str, answer: Any) -> GatewayLookup:
    """``GET /v1/refunds/{id}`` -> REFUND_PROCESSED / REFUND_FAILED when final, nothing
    while ``pending``. Raises :class:`GatewayError` (retryable) for another refund's or
    an unreadable answer."""
    if not isinstance(answer, dict) or answer.get("id") != gateway_refund_id:
        raise _unreadable(f"razorpay refund {gateway_refund_id}")
    status = answer.get("status")
    if status not in ("processed", "failed"):
        return GatewayLookup(raw=answer)
    signal = PaymentSignal(
        kind=SignalKind.REFUND_PROCESSED if status == "processed" else SignalKind.REFUND_FAILED,
        payment_id=str(answer.get("payment_id") or ""),
        booking_id=_booking_id(answer),
        amount_minor=_amount(answer.get("amount")),
        currency=str(answer.get("currency") or "").upper(),
        refund_id=gateway_refund_id,
        refund_reference=_note(answer, "idempotency_key"),
        reason=f"refund {status}",
    )
    return GatewayLookup(signals=(signal,), raw=answer)
