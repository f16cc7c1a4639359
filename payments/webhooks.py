"""Incoming gateway webhooks: verify, claim in the ledger, apply — one transaction.

1. The signature is checked on the raw body with the gateway's own scheme before
   anything is stored (:class:`InvalidSignature` -> 400, only a log line).
2. Claim: the :class:`WebhookEvent` row is inserted (unique gateway + event id, and
   unique gateway + SHA-256 of the signed body, so a replayed body under a new unsigned
   event-id header is a duplicate too) in a savepoint of the transaction that applies
   the effects. A concurrent or repeated delivery blocks on the unique index until the
   first commits, then sees the row and answers ``duplicate`` without changing anything.
3. The effects run in the same transaction, so the ledger row exists if and only if its
   effects were applied. No outbound HTTP here: refunds and notifications are enqueued
   with ``transaction.on_commit``. Each kind of gateway signal has one handler:
   captures and failures are :mod:`payments.services`; refund and dispute signals are
   handled by the refunds app, which registers its handlers with
   :func:`register_signal_handler` (a higher layer plugging into this one).

Reconciliation (a look-up of the gateway instead of a delivery from it) goes through the
same steps with :func:`apply_gateway_lookup`: its finding is claimed in the same ledger,
marked ``source=reconciliation``, under an event id derived from what it found, and its
signals reach the same handlers. A late webhook of the same capture or refund is then
claimed under its own id and changes nothing (the handlers' transitions are conditional);
two reconciliation runs finding the same thing claim one ledger row.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from common.locking import lock
from payments import services
from payments.gateways import (
    GatewayLookup,
    InvalidSignature,
    MalformedEvent,
    PaymentSignal,
    SignalKind,
    get_gateway,
)
from payments.models import EventSource, Outcome, Payment, WebhookEvent

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


# handler(event=, signal=, payment=, label=, data=) -> a services.Effect (or its text)
SignalHandler = Callable[..., str]
_handlers: dict[str, SignalHandler] = {}


def register_signal_handler(kind: str, handler: SignalHandler) -> None:
    """Make ``handler`` apply every gateway signal of ``kind`` (one handler per kind)."""
    if kind in _handlers and _handlers[kind] is not handler:
        raise ValueError(f"signal {kind} already has a handler")
    _handlers[kind] = handler


@dataclass(frozen=True)
class WebhookReceipt:
    event: WebhookEvent
    duplicate: bool


def receive_webhook(*, gateway: str, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
    """Verify, record and apply one delivery of a gateway webhook.

    Raises :class:`InvalidSignature` (nothing stored) when the body is not signed by
    the gateway. Returns the ledger row and whether it was a duplicate (same gateway and
    event id, or the same signed body, seen before: nothing changed). Any unexpected error
    rolls back both the ledger row and the effects, so the gateway's retry processes it
    afresh.
    """
    verified = get_gateway(gateway).verify_webhook(body=body, headers=headers)
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    return _claim_and_apply(
        gateway=gateway,
        event_id=verified.event_id,
        event_type=verified.event_type,
        payload=verified.payload,
        raw_body=body.decode("utf-8", errors="replace"),
        headers=kept,
        source=EventSource.WEBHOOK,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def apply_gateway_lookup(*, gateway: str, subject: str, lookup: GatewayLookup) -> WebhookReceipt:
    """Apply what reconciliation learnt by asking the gateway about ``subject`` (e.g.
    ``order:<order id>``, ``refund:<gateway refund id>``), exactly as a webhook is applied.

    The ledger row is marked ``source=reconciliation``; its event id is
    ``reconcile:<subject>:<digest of the signals>``, so the same finding is applied once
    however many runs find it (concurrent runs block on the unique index and answer
    duplicate), while a new finding about the same subject (a refund that went from
    pending to processed) is a new row. The signals and the gateway's answer are stored in
    the payload, so a replay applies the same signals. Nothing is applied for a look-up
    without signals (the caller does not call this then). Atomic.
    """
    signals = [asdict(signal) for signal in lookup.signals]
    digest = hashlib.sha256(json.dumps(signals, sort_keys=True).encode()).hexdigest()[:24]
    return _claim_and_apply(
        gateway=gateway,
        event_id=f"reconcile:{subject}:{digest}",
        event_type="reconcile." + subject.split(":", 1)[0],
        payload={"signals": signals, "answer": lookup.raw},
        raw_body="",
        headers={},
        source=EventSource.RECONCILIATION,
        body_sha256="",
    )


def _claim_and_apply(
    *,
    gateway: str,
    event_id: str,
    event_type: str,
    payload: dict,
    raw_body: str,
    headers: dict,
    source: str,
    body_sha256: str,
) -> WebhookReceipt:
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = WebhookEvent.objects.create(
                    gateway=gateway,
                    event_id=event_id[:255],
                    event_type=event_type[:100],
                    payload=payload,
                    source=source,
                    raw_body=raw_body,
                    body_sha256=body_sha256,
                    headers=headers,
                )
        except IntegrityError:
            # The same event id, or (webhooks) the same signed body under another id.
            same = Q(event_id=event_id[:255])
            if body_sha256:
                same |= Q(body_sha256=body_sha256)
            existing = WebhookEvent.objects.filter(same, gateway=gateway).first()
            logger.info("duplicate %s %s %s", gateway, source, event_id)
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
    event = lock(WebhookEvent.objects.filter(pk=event_id)).get()
    _apply(event)
    return event


def _signals_of(event: WebhookEvent) -> list[PaymentSignal]:
    """A webhook's signals are its gateway's reading of the payload; a reconciliation
    entry stores the signals its look-up found."""
    if event.source == EventSource.RECONCILIATION:
        stored = event.payload.get("signals") or []
        return [PaymentSignal(**{**item, "kind": SignalKind(item["kind"])}) for item in stored]
    return get_gateway(event.gateway).interpret(event_type=event.event_type, payload=event.payload)


def _apply(event: WebhookEvent) -> None:
    try:
        signals = _signals_of(event)
    except MalformedEvent as exc:
        # Signed but not the shape its type promises: kept for inspection, never retried
        # into a 500 loop (the gateway would resend the same body for days).
        _record_outcome(event, Outcome.IGNORED, f"malformed event: {exc}", None)
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
        outcome, detail = Outcome.IGNORED, "nothing to apply for this event"
    elif booking_id is None:
        outcome, detail = Outcome.IGNORED, "; ".join(outcomes)
    elif any(o.endswith(services.Effect.FLAGGED) for o in outcomes):
        outcome, detail = Outcome.FLAGGED, "; ".join(outcomes)
    else:
        outcome, detail = Outcome.PROCESSED, "; ".join(outcomes)
    _record_outcome(event, outcome, detail, booking_id)


def _record_outcome(event: WebhookEvent, outcome: str, detail: str, booking_id) -> None:
    event.outcome = outcome
    event.detail = detail
    event.booking_id = booking_id
    event.processed_at = timezone.now()
    event.save(update_fields=["outcome", "detail", "booking", "processed_at"])


def _apply_signal(event: WebhookEvent, signal: PaymentSignal, payment: Payment) -> str:
    handler = _handlers.get(signal.kind)
    if handler is None:
        return services.Effect.NO_EFFECT
    data = {"webhook_event": event.pk, "event_id": event.event_id, "event_type": event.event_type}
    label = event.gateway
    if event.source == EventSource.RECONCILIATION:
        data["source"] = EventSource.RECONCILIATION
        label = f"{event.gateway} reconciliation"
    return handler(event=event, signal=signal, payment=payment, label=label, data=data)


def _apply_capture(*, signal: PaymentSignal, payment: Payment, label: str, data: dict, **_) -> str:
    return services.record_capture(
        payment=payment,
        gateway_payment_id=signal.payment_id,
        amount_minor=signal.amount_minor,
        currency=signal.currency or None,
        label=label,
        data=data,
    )


def _apply_failure(*, signal: PaymentSignal, payment: Payment, label: str, data: dict, **_) -> str:
    return services.record_failure(
        payment=payment, reason=signal.reason or "Payment failed.", label=label, data=data
    )


register_signal_handler(SignalKind.CAPTURED, _apply_capture)
register_signal_handler(SignalKind.FAILED, _apply_failure)


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


__all__ = [
    "InvalidSignature",
    "WebhookReceipt",
    "apply_gateway_lookup",
    "receive_webhook",
    "replay_webhook_event",
]
