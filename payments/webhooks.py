"""Incoming gateway webhooks: verify and record in one short transaction, apply later.

1. The signature is checked on the raw body with the gateway's own scheme before
   anything is stored (:class:`InvalidSignature` -> 400, only a log line).
2. Record (:func:`receive_webhook`): the :class:`WebhookEvent` row is inserted with
   outcome ``pending`` (unique gateway + event id, and unique gateway + SHA-256 of the
   signed body, so a replayed body under a new unsigned event-id header is a duplicate
   too) in a transaction of its own, one INSERT and one commit. A concurrent or
   repeated delivery blocks on the unique index until the first commits, then sees the
   row and answers ``duplicate`` without changing anything. Once the row is committed
   the gateway gets its 2xx and never sends that event again: from here on applying it
   is ours (:mod:`payments.intake` hands it to a Celery task).
3. Apply (:func:`apply_stored_webhook`): the pending row is locked, its effects run and
   its outcome is written in one transaction; a row that is no longer pending (applied
   by another worker, a redelivered task, the sweep) is left alone, so each stored
   event is applied exactly once however often the task runs. A failure rolls the
   effects back and leaves the row pending for a retry or the sweep
   (:func:`apply_pending_webhooks`). No outbound HTTP here: refunds and notifications
   are enqueued with ``transaction.on_commit``. Each kind of gateway signal has one
   handler: captures and failures are :mod:`payments.services`; refund and dispute
   signals are handled by the refunds app, which registers its handlers with
   :func:`register_signal_handler` (a higher layer plugging into this one). The handlers
   are conditional transitions, so the order in which stored events are applied does
   not change where a booking ends (a failure after a capture changes nothing, a capture
   after a failure is a late capture).

Reconciliation (a look-up of the gateway instead of a delivery from it) goes through the
same ledger and handlers with :func:`apply_gateway_lookup`, claimed and applied in one
transaction (nobody waits for its answer): its finding is marked
``source=reconciliation``, under an event id derived from what it found. A late webhook
of the same capture or refund is then claimed under its own id and changes nothing (the
handlers' transitions are conditional); two reconciliation runs finding the same thing
claim one ledger row.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta

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
    """Verify and record one delivery of a gateway webhook; nothing is applied yet.

    Raises :class:`InvalidSignature` (nothing stored) when the body is not signed by
    the gateway. Otherwise returns the ledger row, committed with outcome ``pending``
    (one INSERT, one commit: call it outside any transaction), or, for a duplicate (same
    gateway and event id, or the same signed body, seen before), the earlier row and
    ``duplicate=True`` with nothing changed. The caller hands a new row to
    :func:`apply_stored_webhook` (:mod:`payments.intake`).
    """
    verified = get_gateway(gateway).verify_webhook(body=body, headers=headers)
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    # No transaction around the claim: its own atomic block is the whole transaction
    # (BEGIN, INSERT, COMMIT), not a savepoint inside one.
    return _claim(
        gateway=gateway,
        event_id=verified.event_id,
        event_type=verified.event_type,
        payload=verified.payload,
        raw_body=body.decode("utf-8", errors="replace"),
        headers=kept,
        source=EventSource.WEBHOOK,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


@transaction.atomic
def apply_stored_webhook(*, event_id: int) -> str | None:
    """Apply a recorded delivery that is still ``pending``, exactly once.

    The row is locked first (``common.locking``: the ledger row before anything its
    effects lock), so concurrent runs for one event queue and the later ones find it
    applied. Returns the outcome written, or None when the row is gone or no longer
    pending (nothing changed). Atomic: an error rolls the effects back and the row stays
    pending for a retry or :func:`apply_pending_webhooks`.
    """
    event = lock(WebhookEvent.objects.filter(pk=event_id, outcome=Outcome.PENDING)).first()
    if event is None:
        return None
    _apply(event)
    return event.outcome


def pending_webhook_ids(*, received_before, limit: int) -> list[int]:
    """Ids of recorded deliveries still pending that arrived before ``received_before``,
    oldest first (partial index ``webhook_event_pending_idx``)."""
    pending = WebhookEvent.objects.filter(outcome=Outcome.PENDING, received_at__lt=received_before)
    return list(pending.order_by("received_at", "pk").values_list("pk", flat=True)[:limit])


def apply_pending_webhooks(*, older_than_seconds: int, limit: int) -> list[int]:
    """Safety net for deliveries recorded but never applied (the task was lost with a
    crashed worker or an unreachable broker, or kept failing): apply up to ``limit`` of
    those pending for longer than ``older_than_seconds``, each in its own transaction.
    Returns the ids applied now; one that fails is logged and stays pending."""
    received_before = timezone.now() - timedelta(seconds=older_than_seconds)
    applied = []
    for event_id in pending_webhook_ids(received_before=received_before, limit=limit):
        try:
            if apply_stored_webhook(event_id=event_id) is not None:
                applied.append(event_id)
        except Exception:
            # One bad event must not starve the others; it stays pending and visible.
            logger.exception("webhook event %s could not be applied", event_id)
    return applied


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
    with transaction.atomic():
        receipt = _claim(
            gateway=gateway,
            event_id=f"reconcile:{subject}:{digest}",
            event_type="reconcile." + subject.split(":", 1)[0],
            payload={"signals": signals, "answer": lookup.raw},
            raw_body="",
            headers={},
            source=EventSource.RECONCILIATION,
            body_sha256="",
        )
        if not receipt.duplicate:
            _apply(receipt.event)
    return receipt


def _claim(
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
    """Insert the ledger row (pending), or find the row a duplicate ran into. In a
    transaction of its own when called outside one, else in a savepoint of the caller's
    (a duplicate must not poison it)."""
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
    "apply_pending_webhooks",
    "apply_stored_webhook",
    "pending_webhook_ids",
    "receive_webhook",
    "replay_webhook_event",
]
