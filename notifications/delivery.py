"""Delivering outbox rows: claim, send, mark — each row sent once.

A row is claimed with one conditional UPDATE (pending and due, or a "sending" claim
older than ``STALE_CLAIM`` left by a crashed worker) that also sets ``claimed_at``;
the claim time is the claim's token, so only the claimant can mark the row sent or
failed. Two dispatchers racing for a row: the UPDATE lets exactly one through.

Failure puts the row back to pending with an exponential backoff in
``available_at``; after ``max_attempts()`` tries it is FAILED (admin can retry).

One-time codes: an OTP row says "deliver a fresh <purpose> code for booking X to Y".
The code is generated at send time by the issuer the otp app registers for the row's
kind (:func:`register_code_issuer`: the lower layer offers the hook, the higher one
plugs in), its HMAC stored (superseding the previous code of that purpose) and the
message sent in the same step, so the plain code lives
only in memory and in the outgoing message — never in the outbox row, the logs or
``last_error``. We chose this over storing an encrypted code in the row because it
needs no extra key management or crypto dependency and nothing decryptable is ever
at rest. Consequence: a retried OTP row sends a new code (the failed one was never
delivered, so superseding it costs nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.utils import timezone

from notifications.errors import PermanentFailure, SkipMessage
from notifications.messages import OTP_KINDS, TEMPLATES
from notifications.models import OutboxMessage
from notifications.sms import send_sms
from notifications.webhooks import send_partner_webhook

logger = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600

# kind -> issuer(booking_id=, purpose=, requested_by=) returning a fresh plain code, or
# raising SkipMessage when no code is needed any more. Filled by the otp app's ready().
CodeIssuer = Callable[..., str]
_code_issuers: dict[str, CodeIssuer] = {}


def register_code_issuer(kind: str, issuer: CodeIssuer) -> None:
    """Plug in the function that creates the code an OTP row of ``kind`` carries."""
    if kind not in OTP_KINDS:
        raise ValueError(f"{kind!r} is not a one-time-code kind")
    _code_issuers[kind] = issuer


def max_attempts() -> int:
    return getattr(settings, "OUTBOX_MAX_ATTEMPTS", 5)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX_SECONDS))


def claimable(now) -> Q:
    return Q(attempts__lt=max_attempts()) & (
        Q(status=OutboxMessage.Status.PENDING, available_at__lte=now)
        | Q(status=OutboxMessage.Status.SENDING, claimed_at__lt=now - STALE_CLAIM)
    )


def deliver(message_id: int) -> bool:
    """Deliver one outbox row if it is due and nobody else holds it; True if sent now.

    Safe to call any number of times, concurrently: a row is sent at most once per
    successful claim, and a sent row is never claimed again. Runs outside any
    transaction (each UPDATE commits on its own) and never raises for send failures.
    """
    now = timezone.now()
    claimed = OutboxMessage.objects.filter(claimable(now), pk=message_id).update(
        status=OutboxMessage.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    mine = OutboxMessage.objects.filter(
        pk=message_id, status=OutboxMessage.Status.SENDING, claimed_at=now
    )
    try:
        partial_error = _send(message)
    except SkipMessage as exc:
        mine.update(status=OutboxMessage.Status.SKIPPED, last_error=str(exc)[:500])
        return False
    except PermanentFailure as exc:
        error = f"{exc} (attempt {message.attempts}, not retried)"[:500]
        mine.update(status=OutboxMessage.Status.FAILED, last_error=error)
        logger.warning(
            "outbox message %s (%s/%s) failed: %s", message.pk, message.channel, message.kind, error
        )
        return False
    except Exception as exc:  # noqa: BLE001 - any backend failure is retried
        _record_failure(message, mine, exc)
        return False
    mine.update(status=OutboxMessage.Status.SENT, sent_at=timezone.now(), last_error=partial_error)
    return True


def _record_failure(message: OutboxMessage, mine, exc: Exception) -> None:
    # Only the exception's class: its text could quote the message (and so a code).
    error = f"{type(exc).__name__} on attempt {message.attempts}"
    if message.attempts >= max_attempts():
        mine.update(status=OutboxMessage.Status.FAILED, last_error=error)
    else:
        mine.update(
            status=OutboxMessage.Status.PENDING,
            available_at=timezone.now() + backoff(message.attempts),
            last_error=error,
        )
    logger.warning(
        "outbox message %s (%s/%s) failed: %s", message.pk, message.channel, message.kind, error
    )


def _send(message: OutboxMessage) -> str:
    """Send the row; returns a note on a partial failure (OTP rows) or ''."""
    # A row written before its kind carried a code (a reminder) has its text rendered.
    if message.kind in OTP_KINDS and "otp_purpose" in message.payload:
        return _send_otp(message)
    if message.channel == OutboxMessage.Channel.EMAIL:
        _send_email(to=message.recipient, subject=message.subject, body=message.body)
    elif message.channel == OutboxMessage.Channel.SMS:
        send_sms(to=message.recipient, body=message.body)
    elif message.channel == OutboxMessage.Channel.WEBHOOK:
        send_partner_webhook(message)
    else:
        raise SkipMessage(f"channel {message.channel} is not delivered by the outbox")
    return ""


def _send_email(*, to: str, subject: str, body: str) -> None:
    try:
        EmailMessage(subject=subject, body=body, to=[to]).send(using="default")
    except AnymailRecipientsRefused:
        # The provider (through anymail) rejects the address: invalid, bounced, complained.
        raise PermanentFailure("the email provider refused the recipient") from None


def _send_otp(message: OutboxMessage) -> str:
    purpose = message.payload.get("otp_purpose") or OTP_KINDS[message.kind]
    if message.booking_id is None:
        raise SkipMessage("the booking no longer exists")
    issuer = _code_issuers.get(message.kind)
    if issuer is None:
        raise PermanentFailure(f"no code issuer is registered for {message.kind}")
    code = issuer(booking_id=message.booking_id, purpose=purpose, requested_by=message.pk)
    template = TEMPLATES[message.kind]
    context = message.payload.get("context") or {"booking_id": message.booking_id}
    fields = {**context, "code": code, "ttl": settings.OTP_TTL_MINUTES}
    targets = []
    if message.channel == OutboxMessage.Channel.EMAIL:
        targets.append(("email", message.recipient))
    else:
        targets.append(("sms", message.recipient))
    if message.payload.get("sms_to"):
        targets.append(("sms", message.payload["sms_to"]))

    failures = []
    for channel, to in targets:
        try:
            if channel == "email":
                _send_email(to=to, subject=message.subject, body=template.body.format(**fields))
            else:
                send_sms(to=to, body=template.sms.format(**fields))
        except Exception as exc:  # noqa: BLE001
            failures.append((channel, exc))
    del code, fields
    if len(failures) == len(targets):
        raise failures[0][1]
    return "; ".join(f"{channel}: {type(exc).__name__}" for channel, exc in failures)
