"""Writing notifications: rows of the transactional outbox.

Every function here only INSERTs outbox rows inside the caller's transaction and
registers ``transaction.on_commit`` to enqueue their delivery. If the caller's
transaction rolls back, no message exists; if the process dies after commit but
before the task is enqueued, the periodic ``notifications.tasks.dispatch_outbox``
sweep finds the pending rows. Delivery itself is in ``notifications.delivery``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.messages import (
    OTP_KINDS,
    booking_context,
    derived_context,
    template_for,
)
from notifications.models import OutboxMessage


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
    booking=None,
    recipients: Iterable[Any] | None = None,
    context: dict[str, Any] | None = None,
    once_key: str | None = None,
) -> list[OutboxMessage]:
    """Queue a notification to each recipient: one email row and/or one SMS row each.

    Call it inside the transaction of the state change it reports; the rows commit or
    roll back with it, and delivery is enqueued only after commit.

    - ``kind``: ``booking_confirmed``, ``booking_reminder``, ``booking_cancelled``,
      ``refund`` (context: ``amount`` in minor units, ``currency``, ``status``) or any
      other string when ``context`` carries ``subject`` and ``message``.
    - ``booking``: the booking the message is about (its id, service, partner and slot
      start are available to the text); may be None for non-booking messages.
    - ``recipients``: Users, Staff or :class:`Recipient`s; None means the booking's
      customer. Email goes to ``email``, SMS to ``phone`` when set.
    - ``context``: extra text fields (never secrets: the rendered text is stored).
    - ``once_key``: if given, the notification is written at most once per key, ever
      (a repeated call returns ``[]``); used for reminders.

    Returns the rows written. Raises ``ValueError`` for an unknown kind without text.
    """
    if kind in OTP_KINDS:
        raise ValueError("One-time codes are sent with otp.services.request_code().")
    context = dict(context or {})
    fields = derived_context({**(booking_context(booking) if booking else {}), **context})
    template = template_for(kind, fields)
    if recipients is None:
        if booking is None:
            raise ValueError("recipients are required when there is no booking.")
        recipients = [booking.customer]

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
        row.booking = booking
        row.available_at = timezone.now()
        if once_key:
            row.dedupe_key = f"{once_key}:{row.channel}:{row.recipient}"[:200]
        if _insert(row, guarded=bool(once_key)):
            written.append(row)
    _deliver_after_commit([row.pk for row in written])
    return written


def queue_otp_message(*, booking, purpose: str, recipient: Any) -> OutboxMessage:
    """Queue "deliver a fresh ``purpose`` code for ``booking`` to ``recipient``".

    The row holds no code: the dispatcher generates the code, stores its hash and sends
    it in one step (``notifications.delivery``), so the plain code exists only in the
    outgoing message. One row covers both the email and the SMS of the recipient, so
    both carry the same code. Call through ``otp.services.request_code`` (rate limit).
    """
    target = Recipient.of(recipient)
    if not (target.email or target.phone):
        raise ValueError("The recipient has neither an email address nor a phone number.")
    kind = {v: k for k, v in OTP_KINDS.items()}[purpose]
    primary = OutboxMessage.Channel.EMAIL if target.email else OutboxMessage.Channel.SMS
    row = OutboxMessage(
        channel=primary,
        kind=kind,
        recipient=target.email or target.phone,
        subject=template_for(kind, {}).subject.format(booking_id=booking.pk),
        body="(the one-time code is generated when the message is sent and never stored)",
        payload={"otp_purpose": purpose, "sms_to": target.phone if target.email else ""},
        booking=booking,
        available_at=timezone.now(),
    )
    _insert(row, guarded=False)
    _deliver_after_commit([row.pk])
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


def _deliver_after_commit(message_ids: list[int]) -> None:
    if not message_ids:
        return
    from notifications.tasks import deliver_message

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
    _deliver_after_commit(moved_ids)
    return moved
