"""One-time codes for the arrival and completion steps of a booking.

Guarantees:

* Codes are 6 digits from ``secrets`` (a CSPRNG). Only ``HMAC-SHA256(key,
  "booking:purpose:code")`` is stored; the key is ``settings.OTP_HASH_KEY`` or,
  when that is empty, derived from ``SECRET_KEY``. Comparison is constant-time.
* A code expires after ``OTP_TTL_MINUTES`` (the arrival code of the day-of reminder when
  its slot ends, see :func:`issue_code_for_reminder`), is used at most once, and dies after
  ``MAX_WRONG_ATTEMPTS`` wrong guesses. Issuing a code supersedes the previous
  active code of the same booking and purpose.
* Issuing is rate-limited per booking and purpose (``OTP_ISSUE_LIMIT`` per
  ``OTP_ISSUE_WINDOW_MINUTES``), counted in the database under the booking's row
  lock, so concurrent requests cannot exceed it.
* The plain code leaves this module only towards the outgoing message
  (``notifications.delivery``): :func:`request_code` queues a message, and the
  dispatcher calls :func:`issue_code_for_message` (registered as the code issuer of the
  OTP kinds in ``OtpConfig.ready``) at send time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.notices import booking_context
from bookings.transitions import record_event
from common.locking import lock
from notifications.errors import SkipMessage
from notifications.messages import CODE_KINDS, kinds_carrying
from notifications.models import OutboxMessage
from notifications.services import queue_otp_message
from otp.errors import (
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    OtpNoRecipient,
    OtpNotIssued,
    OtpNotNeeded,
    OtpRateLimited,
)
from otp.models import BookingOtp, OtpPurpose

MAX_WRONG_ATTEMPTS = 5
CODE_DIGITS = 6

# The booking status in which a code of each purpose can be issued and used.
STATUS_FOR_PURPOSE = {
    OtpPurpose.ARRIVAL: BookingStatus.CONFIRMED,
    OtpPurpose.COMPLETION: BookingStatus.AWAITING_COMPLETION,
}


def _hash_key() -> bytes:
    configured = getattr(settings, "OTP_HASH_KEY", "")
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"slotwise.otp.hash-key", hashlib.sha256).digest()


def hash_code(*, booking_id: int, purpose: str, code: str) -> str:
    """The stored form of a code: bound to its booking and purpose."""
    message = f"{booking_id}:{purpose}:{code}".encode()
    return hmac.new(_hash_key(), message, hashlib.sha256).hexdigest()


def request_code(
    *, booking: Booking, purpose: str, recipient, enforce_limit: bool = True
) -> OutboxMessage:
    """Queue the delivery of a fresh ``purpose`` code for ``booking`` to ``recipient``.

    Atomic (joins the caller's transaction): with ``enforce_limit``, counts the codes
    requested for this booking and purpose in the window under the booking's row lock
    and raises :class:`OtpRateLimited` (429) at the limit. System-issued codes (on
    confirmation, on mark-complete) pass ``enforce_limit=False``: they are not checked,
    but their messages count towards the next request's limit. Raises
    :class:`OtpNoRecipient` (409) when the recipient has neither email nor phone. The
    code itself is generated when the message is sent.
    """
    if not (getattr(recipient, "email", "") or getattr(recipient, "phone", "")):
        raise OtpNoRecipient()
    with transaction.atomic():
        if enforce_limit:
            # A status change sending its code already holds the booking's row; a request
            # of the customer or partner takes it here, so concurrent ones count in turn.
            lock(Booking.objects.filter(pk=booking.pk)).values_list("pk").first()
            window_start = timezone.now() - timedelta(
                minutes=getattr(settings, "OTP_ISSUE_WINDOW_MINUTES", 10)
            )
            recent = OutboxMessage.objects.filter(
                booking=booking, kind__in=kinds_carrying(purpose), created_at__gte=window_start
            ).count()
            if recent >= getattr(settings, "OTP_ISSUE_LIMIT", 3):
                raise OtpRateLimited()
        return queue_otp_message(
            booking_id=booking.pk,
            purpose=purpose,
            kind=CODE_KINDS[purpose],
            recipient=recipient,
            context=booking_context(booking),
        )


def retire_codes(*, booking_id: int, purpose: str) -> int:
    """Supersede the booking's unused ``purpose`` codes now (joins the caller's
    transaction); returns how many. Used when the booking moved: the old arrival code
    must not open the new appointment while the new one is on its way."""
    return BookingOtp.objects.filter(
        booking_id=booking_id, purpose=purpose, used_at__isnull=True, superseded_at__isnull=True
    ).update(superseded_at=timezone.now())


@transaction.atomic
def issue_code(
    *,
    booking_id: int,
    purpose: str,
    requested_by: int | None = None,
    until_slot_end: bool = False,
) -> str:
    """Create a new code for the booking's step and return it (plain, for sending only).

    Supersedes the previous unused code of the same purpose in the same transaction,
    under the booking's row lock (so two concurrent issues leave one active code).
    Raises :class:`OtpNotNeeded` when the booking is not at the step of ``purpose``, or
    when ``requested_by`` (the outbox row sending the code) has been overtaken by a
    later request for the same code: a retried old message must not kill the newer
    code the customer already received.
    Never log or store the returned value.
    """
    status, slot_end = lock(Booking.objects.filter(pk=booking_id)).values_list(
        "status", "slot_end"
    ).first() or (None, None)
    if status != STATUS_FOR_PURPOSE[purpose]:
        raise OtpNotNeeded(f"booking {booking_id} is {status}; no {purpose} code is needed")
    if (
        requested_by is not None
        and OutboxMessage.objects.filter(
            booking_id=booking_id, kind__in=kinds_carrying(purpose), pk__gt=requested_by
        ).exists()
    ):
        raise OtpNotNeeded(f"a newer {purpose} code was requested for booking {booking_id}")
    now = timezone.now()
    BookingOtp.objects.filter(
        booking_id=booking_id, purpose=purpose, used_at__isnull=True, superseded_at__isnull=True
    ).update(superseded_at=now)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    expires_at = now + timedelta(minutes=settings.OTP_TTL_MINUTES)
    if until_slot_end and slot_end is not None:
        expires_at = max(expires_at, slot_end)
    otp = BookingOtp.objects.create(
        booking_id=booking_id,
        purpose=purpose,
        code_hash=hash_code(booking_id=booking_id, purpose=purpose, code=code),
        expires_at=expires_at,
    )
    record_event(
        booking_id=booking_id,
        kind="otp_issued",
        actor_label="system",
        reason=f"{OtpPurpose(purpose).label} code sent",
        data={"purpose": purpose, "otp_id": otp.pk, "expires_at": otp.expires_at.isoformat()},
    )
    return code


def issue_code_for_message(*, booking_id: int, purpose: str, requested_by: int) -> str:
    """The code issuer of the OTP outbox kinds (see ``notifications.delivery``): a fresh
    code, or :class:`~notifications.errors.SkipMessage` when none is needed any more."""
    try:
        return issue_code(booking_id=booking_id, purpose=purpose, requested_by=requested_by)
    except OtpNotNeeded as exc:
        raise SkipMessage(str(exc)) from None


def issue_code_for_reminder(*, booking_id: int, purpose: str, requested_by: int) -> str:
    """The code issuer of the day-of reminder: like :func:`issue_code_for_message`, but
    the code stays valid until the slot ends. The reminder goes out well before the
    arrival (``BOOKING_REMINDER_MINUTES``), and a code that expired on the way would make
    every customer ask for another; guessing stays bounded by ``MAX_WRONG_ATTEMPTS``."""
    try:
        return issue_code(
            booking_id=booking_id,
            purpose=purpose,
            requested_by=requested_by,
            until_slot_end=True,
        )
    except OtpNotNeeded as exc:
        raise SkipMessage(str(exc)) from None


def check_code(*, booking_id: int, purpose: str, code: str) -> int:
    """Check ``code`` against the booking's active code; returns the code's id.

    The check runs in its own short transaction holding the code's row lock, so
    concurrent guesses are compared one at a time and a code gets at most
    ``MAX_WRONG_ATTEMPTS`` comparisons in total. A wrong code counts one attempt that
    commits with that transaction (call this OUTSIDE a transaction, so the count
    survives the failed request), then raises :class:`OtpInvalid`. Raises
    :class:`OtpNotIssued`, :class:`OtpExpired`, :class:`OtpLocked` for a missing,
    expired or dead code. Does not consume the code: :func:`consume_code` does, in the
    transaction of the step it unlocks.
    """
    with transaction.atomic():
        active = (
            lock(BookingOtp.objects.all())
            .filter(
                booking_id=booking_id,
                purpose=purpose,
                used_at__isnull=True,
                superseded_at__isnull=True,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if active is None:
            raise OtpNotIssued()
        if active.attempts >= MAX_WRONG_ATTEMPTS:
            raise OtpLocked()
        if active.expires_at <= timezone.now():
            raise OtpExpired()
        expected = hash_code(booking_id=booking_id, purpose=purpose, code=code)
        matches = hmac.compare_digest(active.code_hash, expected)
        if not matches:
            BookingOtp.objects.filter(pk=active.pk).update(attempts=F("attempts") + 1)
    if not matches:
        left = max(MAX_WRONG_ATTEMPTS - active.attempts - 1, 0)
        raise OtpInvalid(f"The code is not valid; {left} attempt(s) left.")
    return active.pk


def consume_code(*, otp_id: int) -> None:
    """Mark a checked code used: one conditional UPDATE, so exactly one caller wins.

    Call inside the transaction that performs the step the code unlocks; raises
    :class:`OtpInvalid` when the code was used, superseded, locked or expired meanwhile.
    """
    used = BookingOtp.objects.filter(
        pk=otp_id,
        used_at__isnull=True,
        superseded_at__isnull=True,
        attempts__lt=MAX_WRONG_ATTEMPTS,
        expires_at__gt=timezone.now(),
    ).update(used_at=timezone.now())
    if used != 1:
        raise OtpInvalid("The code is no longer valid.")
