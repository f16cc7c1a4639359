"""Incoming gateway webhooks: verify, claim in the ledger, apply — one transaction.

1. The signature is checked on the raw body with the gateway's own scheme before
   anything is stored (:class:`InvalidSignature` -> 400, only a log line).
2. Claim: the :class:`WebhookEvent` row is inserted (unique gateway + event id, and
   unique gateway + SHA-256 of the signed body, so a replayed body under a new unsigned
   event-id header is a duplicate too) in a savepoint of the transaction that applies
   the effects. A concurrent or repeated delivery blocks on the unique index until the
   first commits, then sees the row and answers ``duplicate`` without changing anything.
3. The effects (:mod:`payments.services`) run in the same transaction, so the ledger
   row exists if and only if its effects were applied. No outbound HTTP here: refunds
   and notifications are enqueued with ``transaction.on_commit``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from payments import services
from payments.gateways import (
    InvalidSignature,
    MalformedEvent,
    PaymentSignal,
    SignalKind,
    get_gateway,
)
from payments.models import Payment, WebhookEvent

logger = logging.getLogger(__name__)

# Headers worth keeping for inspection (never secrets; signatures are not secret).
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-razorpay-signature",
    "x-razorpay-event-id",
    "stripe-signature",
    "x-sandbox-signature",
    "x-sandbox-event-id",
)


@dataclass(frozen=True)
class WebhookReceipt:
    event: WebhookEvent
    duplicate: bool


def receive_webhook(*, gateway: str, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
    """Verify, record and apply one delivery of a gateway webhook.

    Raises :class:`InvalidSignature` (nothing stored) when the body is not signed by
    the gateway. Returns the ledger row and whether it was a duplicate (same gateway
    and event id seen before: nothing changed). Any unexpected error rolls back both
    the ledger row and the effects, so the gateway's retry processes it afresh.
    """
    verified = get_gateway(gateway).verify_webhook(body=body, headers=headers)
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = WebhookEvent.objects.create(
                    gateway=gateway,
                    event_id=verified.event_id[:255],
                    event_type=verified.event_type[:100],
                    payload=verified.payload,
                    raw_body=body.decode("utf-8", errors="replace"),
                    body_sha256=digest,
                    headers=kept,
                )
        except IntegrityError:
            existing = WebhookEvent.objects.filter(
                Q(event_id=verified.event_id[:255]) | Q(body_sha256=digest), gateway=gateway
            ).first()
            logger.info("duplicate %s webhook %s", gateway, verified.event_id)
            return WebhookReceipt(event=existing, duplicate=True)
        _apply(event)
    return WebhookReceipt(event=event, duplicate=False)


@transaction.atomic
def replay_webhook_event(*, event_id: int) -> WebhookEvent:
    """Apply a stored ledger event again (admin action, ``replay_webhook`` command).

    Safe to run any number of times: every effect is a conditional transition or
    idempotent per gateway id, so a replay of an applied event changes nothing but
    the ledger row's outcome/detail. The row is locked while it is replayed.
    """
    event = WebhookEvent.objects.select_for_update().get(pk=event_id)
    _apply(event)
    return event


def _apply(event: WebhookEvent) -> None:
    try:
        signals = get_gateway(event.gateway).interpret(
            event_type=event.event_type, payload=event.payload
        )
    except MalformedEvent as exc:
        # Signed but not the shape its type promises: kept for inspection, never retried
        # into a 500 loop (the gateway would resend the same body for days).
        _record_outcome(event, WebhookEvent.Outcome.IGNORED, f"malformed event: {exc}", None)
        return
    outcomes: list[str] = []
    booking_id = None
    for signal in signals:
        payment = _find_payment(gateway=event.gateway, signal=signal)
        if payment is None:
            outcomes.append(f"{signal.kind}: no matching payment")
            continue
        booking_id = payment.booking_id
        outcomes.append(f"{signal.kind}: {_apply_signal(event, signal, payment)}")
    if not signals:
        outcome, detail = WebhookEvent.Outcome.IGNORED, "nothing to apply for this event"
    elif booking_id is None:
        outcome, detail = WebhookEvent.Outcome.IGNORED, "; ".join(outcomes)
    elif any(o.endswith(services.Outcome.FLAGGED) for o in outcomes):
        outcome, detail = WebhookEvent.Outcome.FLAGGED, "; ".join(outcomes)
    else:
        outcome, detail = WebhookEvent.Outcome.PROCESSED, "; ".join(outcomes)
    _record_outcome(event, outcome, detail, booking_id)


def _record_outcome(event: WebhookEvent, outcome: str, detail: str, booking_id) -> None:
    event.outcome = outcome
    event.detail = detail
    event.booking_id = booking_id
    event.processed_at = timezone.now()
    event.save(update_fields=["outcome", "detail", "booking", "processed_at"])


def _apply_signal(event: WebhookEvent, signal: PaymentSignal, payment: Payment) -> str:
    label = event.gateway
    data = {"webhook_event": event.pk, "event_id": event.event_id, "event_type": event.event_type}
    if signal.kind == SignalKind.CAPTURED:
        return services.record_capture(
            payment=payment,
            gateway_payment_id=signal.payment_id,
            amount_minor=signal.amount_minor,
            currency=signal.currency or None,
            label=label,
            data=data,
        )
    if signal.kind == SignalKind.FAILED:
        return services.record_failure(
            payment=payment, reason=signal.reason or "Payment failed.", label=label, data=data
        )
    if signal.kind in (SignalKind.REFUND_PROCESSED, SignalKind.REFUND_FAILED):
        if not signal.refund_id:
            return services.Outcome.NO_EFFECT
        return services.record_gateway_refund(
            payment=payment,
            gateway_refund_id=signal.refund_id,
            refund_reference=signal.refund_reference,
            succeeded=signal.kind == SignalKind.REFUND_PROCESSED,
            amount_minor=signal.amount_minor,
            detail=signal.reason,
            label=label,
        )
    if signal.kind == SignalKind.REFUNDED_TOTAL:
        return services.record_gateway_refunded_total(
            payment=payment, refunded_total_minor=signal.amount_minor or 0, label=label
        )
    if signal.kind == SignalKind.DISPUTE:
        return services.record_dispute(
            payment=payment,
            gateway_dispute_id=signal.dispute_id or f"{event.gateway}:{event.event_id}",
            reason=signal.reason,
        )
    raise ValueError(f"unhandled signal {signal.kind}")  # pragma: no cover


def _find_payment(*, gateway: str, signal: PaymentSignal) -> Payment | None:
    """Our payment for a signal: by order/session id, else the gateway payment id, else
    the booking id of the notes/metadata (always within the same gateway).

    The booking id is a last resort for events that name no order (Stripe's
    PaymentIntent events): an event naming an order we never made is not ours, even when
    its notes carry one of our booking ids (ids repeat across databases sharing one
    gateway account, and every webhook endpoint of the account gets every event)."""
    payments = Payment.objects.filter(gateway=gateway)
    if signal.order_id:
        found = payments.filter(order_id=signal.order_id).first()
        if found is not None:
            return found
    if signal.payment_id:
        found = payments.filter(payment_id=signal.payment_id).first()
        if found is not None:
            return found
    if signal.booking_id is not None and not signal.order_id:
        return payments.filter(booking_id=signal.booking_id).first()
    return None


__all__ = ["InvalidSignature", "WebhookReceipt", "receive_webhook", "replay_webhook_event"]
