"""Razorpay-shaped webhook payloads -> :class:`PaymentSignal` (no SDK needed).

The sandbox gateway sends the same shapes, so both share this mapping::

    {"event": "payment.captured", "payload": {"payment": {"entity": {...}}}}
"""

from __future__ import annotations

from typing import Any

from payments.gateways.base import MalformedEvent, PaymentSignal, SignalKind


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
    if event_type == "payment.dispute.created":
        dispute = _entity(payload, "dispute")
        return PaymentSignal(
            kind=SignalKind.DISPUTE,
            order_id=str(payment.get("order_id") or ""),
            payment_id=str(dispute.get("payment_id") or payment.get("id") or ""),
            booking_id=_booking_id(payment),
            amount_minor=_amount(dispute.get("amount")),
            dispute_id=str(dispute.get("id") or ""),
            reason=str(
                dispute.get("reason_description") or dispute.get("reason_code") or "chargeback"
            ),
        )
    return None
