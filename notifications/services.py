"""Writing notifications: rows of the transactional outbox.

Every function here only INSERTs outbox rows inside the caller's transaction and
registers ``transaction.on_commit`` to enqueue their delivery. If the caller's
transaction rolls back, no message exists; if the process dies after commit but
before the task is enqueued, the periodic ``notifications.tasks.dispatch_outbox``
sweep finds the pending rows. Delivery itself is in ``notifications.delivery``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.request_id import current_request_id
from notifications.messages import OTP_KINDS, derived_context, template_for
from notifications.models import OutboxMessage
from notifications.tasks import deliver_message
from notifications.webhooks import EVENT_TYPES
from partners.models import Partner


@dataclass(frozen=True)
class Recipient:
    """Where to send: an email address and/or a phone number (either may be blank)."""

    email: str = ""
    phone: str = ""

    @classmethod
    def of(cls, person) -> Recipient:
        """A User, a partners.Staff or anything with ``email``/``phone`` attributes."""
        if isinstance(person, Recipient):
            return person
        return cls(
            email=getattr(person, "email", "") or "", phone=getattr(person, "phone", "") or ""
        )


def notify(
    *,
    kind: str,
    recipients: Iterable[Any],
    context: dict[str, Any] | None = None,
    booking_id: int | None = None,
    once_key: str | None = None,
) -> list[OutboxMessage]:
    """Queue a notification to each recipient: one email row and/or one SMS row each.

    Call it inside the transaction of the state change it reports; the rows commit or
    roll back with it, and delivery is enqueued only after commit.

    - ``kind``: a :class:`~notifications.messages.Kind` with a template
      (``booking.confirmed``, ``booking.cancelled``, ``refund.succeeded`` with context
      ``amount`` in minor units, ``currency``, ``status`` ...), or any other
      ``<subject>.<event>`` when ``context`` carries ``subject`` and ``message``.
    - ``recipients``: Users, Staff or :class:`Recipient`s. Email goes to ``email``, SMS
      to ``phone`` when set.
    - ``context``: the text fields, snapshotted by the caller (``bookings.notices``
      supplies a booking's id, service, partner and start); never secrets: the
      rendered text is stored.
    - ``booking_id``: the booking the message is about, for the admin and the reminder
      check; None for messages about no booking.
    - ``once_key``: if given, the notification is written at most once per key, ever
      (a repeated call returns ``[]``); used for reminders.

    Returns the rows written. Raises ``ValueError`` for an unknown kind without text.
    """
    if kind in OTP_KINDS:
        raise ValueError("One-time codes are sent with otp.services.request_code().")
    fields = derived_context(dict(context or {}))
    template = template_for(kind, fields)

    rows: list[OutboxMessage] = []
    for recipient in map(Recipient.of, recipients):
        if recipient.email:
            rows.append(
                OutboxMessage(
                    channel=OutboxMessage.Channel.EMAIL,
                    recipient=recipient.email,
                    # One line: a newline in a header would make every send fail.
                    subject=" ".join(template.subject.format(**fields).split())[:255],
                    body=template.body.format(**fields),
                )
            )
        if recipient.phone:
            rows.append(
                OutboxMessage(
                    channel=OutboxMessage.Channel.SMS,
                    recipient=recipient.phone,
                    body=template.sms.format(**fields),
                )
            )
    written = []
    for row in rows:
        row.kind = kind
        row.booking_id = booking_id
        row.available_at = timezone.now()
        if once_key:
            row.dedupe_key = f"{once_key}:{row.channel}:{row.recipient}"[:200]
        if _insert(row, guarded=bool(once_key)):
            written.append(row)
    deliver_after_commit([row.pk for row in written])
    return written


def queue_otp_message(
    *,
    booking_id: int,
    purpose: str,
    recipient: Any,
    context: dict[str, Any],
    kind: str,
    once_key: str | None = None,
) -> OutboxMessage | None:
    """Queue "deliver a fresh ``purpose`` code for booking ``booking_id`` to ``recipient``".

    The row holds no code: at send time the dispatcher asks the code issuer registered
    for its kind (``notifications.delivery.register_code_issuer``) for a fresh code and
    sends it in the same step, so the plain code exists only in the outgoing message.
    ``context`` (the booking's text fields) is stored in the row. One row covers both the
    email and the SMS of the recipient, so both carry the same code. ``kind`` is the
    message around the code (``notifications.messages.CODE_KINDS[purpose]``, the plain
    code message, or the reminder, which carries an arrival code too). ``once_key``:
    written at most once per key (None when it already was). Codes a customer or
    partner asks for go through ``otp.services.request_code`` (rate limit).
    """
    target = Recipient.of(recipient)
    if not (target.email or target.phone):
        raise ValueError("The recipient has neither an email address nor a phone number.")
    if OTP_KINDS.get(kind) != purpose:
        raise ValueError(f"{kind!r} messages do not carry a {purpose} code")
    primary = OutboxMessage.Channel.EMAIL if target.email else OutboxMessage.Channel.SMS
    fields = {**context, "booking_id": booking_id}
    row = OutboxMessage(
        channel=primary,
        kind=kind,
        recipient=target.email or target.phone,
        subject=" ".join(template_for(kind, {}).subject.format(**fields).split())[:255],
        body="(the one-time code is generated when the message is sent and never stored)",
        payload={
            "otp_purpose": purpose,
            "sms_to": target.phone if target.email else "",
            "context": context,
        },
        booking_id=booking_id,
        available_at=timezone.now(),
    )
    if once_key:
        row.dedupe_key = f"{once_key}:{row.channel}:{row.recipient}"[:200]
    if not _insert(row, guarded=bool(once_key)):
        return None
    deliver_after_commit([row.pk])
    return row


def queue_partner_webhook(
    *,
    partner_id: int,
    booking_id: int | None,
    event_type: str,
    data: dict,
    url: str | None = None,
) -> OutboxMessage | None:
    """Queue one signed event for the partner; the row written, or None without a URL.

    ``data`` is the event's snapshot, taken by the caller when the change happened (no
    codes, contact details or secrets). ``url`` is the partner's webhook URL when the
    caller read the partner in this transaction (else it is read here). Call inside the
    transaction of the change: the row commits or rolls back with it and delivery is
    enqueued after commit.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown partner event type {event_type!r}")
    if url is None:
        url = Partner.objects.filter(pk=partner_id).values_list("webhook_url", flat=True).first()
    if not url:
        return None
    event_id = f"evt_{uuid.uuid4().hex}"
    event = {
        "id": event_id,
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }
    row = OutboxMessage.objects.create(
        channel=OutboxMessage.Channel.WEBHOOK,
        kind=event_type,
        recipient=url[:500],
        subject=f"{event_type} booking #{booking_id}",
        body=json.dumps(event, separators=(",", ":")),
        # The id of the request or task that made the event: the delivery sends it as
        # X-Request-ID even when a sweep, not the request's own task, delivers the row.
        payload={
            "event_id": event_id,
            "partner_id": partner_id,
            "request_id": current_request_id(),
        },
        booking_id=booking_id,
        available_at=timezone.now(),
    )
    deliver_after_commit([row.pk])
    return row


def _insert(row: OutboxMessage, *, guarded: bool) -> bool:
    if not guarded:
        row.save(force_insert=True)
        return True
    try:
        with transaction.atomic():  # savepoint: a duplicate must not poison the caller
            row.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def deliver_after_commit(message_ids: list[int]) -> None:
    """Enqueue the delivery of these rows once the current transaction commits."""
    if not message_ids:
        return

    def enqueue() -> None:
        for message_id in message_ids:
            deliver_message.delay(message_id)

    # robust: a broker outage must not turn a committed request into an error; the
    # periodic dispatch_outbox sweep delivers rows whose enqueue failed.
    transaction.on_commit(enqueue, robust=True)


@transaction.atomic
def retry_messages(*, message_ids: Iterable[int]) -> int:
    """Put FAILED messages back to pending (admin "retry"); returns how many moved.

    The attempt counter restarts so the message gets the full number of tries again.
    """
    ids = list(message_ids)
    moved = OutboxMessage.objects.filter(pk__in=ids, status=OutboxMessage.Status.FAILED).update(
        status=OutboxMessage.Status.PENDING,
        attempts=0,
        available_at=timezone.now(),
        claimed_at=None,
        last_error="",
    )
    moved_ids = list(
        OutboxMessage.objects.filter(pk__in=ids, status=OutboxMessage.Status.PENDING).values_list(
            "pk", flat=True
        )
    )
    deliver_after_commit(moved_ids)
    return moved
