"""The texts of the notifications, by kind.

Texts are rendered when the outbox row is written (so the row shows exactly what
will be sent), except one-time codes: those are rendered by the dispatcher at
delivery time, because the plain code must never be stored (see
``notifications.delivery``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from common.money import format_money


@dataclass(frozen=True)
class MessageTemplate:
    subject: str
    body: str
    sms: str


class Kind:
    """Outbox kinds, spelled ``<subject>.<event>`` like the partner webhooks' event types
    (``booking.confirmed``), which are outbox kinds too (``notifications.webhooks``)."""

    BOOKING_CONFIRMED = "booking.confirmed"
    BOOKING_REMINDER = "booking.reminder"
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_RESCHEDULED = "booking.rescheduled"
    BOOKING_REASSIGNED = "booking.reassigned"
    REFUND_SUCCEEDED = "refund.succeeded"
    WAITLIST_OFFER = "waitlist.offer"
    OTP_ARRIVAL = "otp.arrival"
    OTP_COMPLETION = "otp.completion"


# Every outbox kind: lower-case words joined by "_" within a part, parts joined by ".".
KIND_PATTERN = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")

TEMPLATES: dict[str, MessageTemplate] = {
    Kind.BOOKING_CONFIRMED: MessageTemplate(
        subject="Booking #{booking_id} confirmed",
        body=(
            "Your booking #{booking_id} for {service} with {partner} on {start} is confirmed.\n"
            "You will receive an arrival code to give to the service person when they arrive."
        ),
        sms="Slotwise: booking #{booking_id} with {partner} on {start} is confirmed.",
    ),
    # Sent as a one-time-code message: the code mailed at confirmation has long expired
    # by the day of the booking, so the reminder carries a fresh arrival code, valid until
    # the slot ends (otp.services.issue_code_for_reminder).
    Kind.BOOKING_REMINDER: MessageTemplate(
        subject="Reminder: booking #{booking_id} starts at {start}",
        body=(
            "Your booking #{booking_id} for {service} with {partner} starts at {start}.\n"
            "Your arrival code for booking #{booking_id} is {code}. Give it to the service "
            "person when they arrive; it works until your booking ends (a code you ask "
            "for in the app replaces it)."
        ),
        sms=(
            "Slotwise reminder: booking #{booking_id} with {partner} starts at {start}. "
            "Arrival code for booking #{booking_id}: {code} (valid until the booking ends)."
        ),
    ),
    Kind.BOOKING_CANCELLED: MessageTemplate(
        subject="Booking #{booking_id} cancelled",
        body=(
            "Your booking #{booking_id} for {service} with {partner} on {start} was cancelled."
            "{reason_line}"
        ),
        sms="Slotwise: booking #{booking_id} on {start} was cancelled.",
    ),
    Kind.BOOKING_RESCHEDULED: MessageTemplate(
        subject="Booking #{booking_id} moved to {start}",
        body=(
            "Your booking #{booking_id} for {service} with {partner} moved from "
            "{previous_start} to {start}. Nothing more to pay.\n"
            "A new arrival code will be sent to you; the old one no longer works."
        ),
        sms="Slotwise: booking #{booking_id} with {partner} moved to {start}.",
    ),
    Kind.BOOKING_REASSIGNED: MessageTemplate(
        subject="Booking #{booking_id}: {partner} will do the job",
        body=(
            "{previous_partner} had to cancel your booking #{booking_id} for {service} on "
            "{start}. {partner} takes it over at {start}, at the same price; nothing more "
            "to pay.\nA new arrival code will be sent to you. If this does not suit you, "
            "cancelling before the start refunds you in full."
        ),
        sms="Slotwise: booking #{booking_id} on {start} is now with {partner}.",
    ),
    Kind.REFUND_SUCCEEDED: MessageTemplate(
        subject="Refund for booking #{booking_id}: {refund_status}",
        body="Refund of {refund_amount} for booking #{booking_id}: {refund_status}.",
        sms="Slotwise: refund of {refund_amount} for booking #{booking_id}: {refund_status}.",
    ),
    Kind.OTP_ARRIVAL: MessageTemplate(
        subject="Your arrival code for booking #{booking_id}",
        body=(
            "Your arrival code for booking #{booking_id} is {code}.\n"
            "Give it to the service person when they arrive. It expires in {ttl} minutes."
        ),
        sms="Slotwise arrival code for booking #{booking_id}: {code} (valid {ttl} min).",
    ),
    Kind.OTP_COMPLETION: MessageTemplate(
        subject="Completion code for booking #{booking_id}",
        body=(
            "The completion code for booking #{booking_id} is {code}.\n"
            "The customer confirms the job is done by entering it. It expires in {ttl} minutes."
        ),
        sms="Slotwise completion code for booking #{booking_id}: {code} (valid {ttl} min).",
    ),
}

# The kinds whose message carries a fresh one-time code, and the code's purpose.
OTP_KINDS = {
    Kind.OTP_ARRIVAL: "arrival",
    Kind.OTP_COMPLETION: "completion",
    Kind.BOOKING_REMINDER: "arrival",
}
# The kind of a plain "here is your code" message of each purpose.
CODE_KINDS = {"arrival": Kind.OTP_ARRIVAL, "completion": Kind.OTP_COMPLETION}


def kinds_carrying(purpose: str) -> list[str]:
    """The outbox kinds whose messages carry a ``purpose`` code (rate limit, supersession)."""
    return [kind for kind, carried in OTP_KINDS.items() if carried == purpose]


def template_for(kind: str, context: dict[str, Any]) -> MessageTemplate:
    """The template of ``kind``; unknown kinds need ``subject`` and ``message`` in context.

    Raises ``ValueError`` for a kind not spelled ``<subject>.<event>`` (every outbox row's
    kind comes through here or is a partner event type).
    """
    if not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"Outbox kinds are spelled <subject>.<event>, not {kind!r}.")
    if kind in TEMPLATES:
        return TEMPLATES[kind]
    if "subject" in context and "message" in context:
        return MessageTemplate(subject="{subject}", body="{message}", sms="{message}")
    raise ValueError(f"Unknown notification kind {kind!r} (pass subject and message).")


def derived_context(context: dict[str, Any]) -> dict[str, Any]:
    """Fill presentational fields from raw ones (money, optional reason line)."""
    full = dict(context)
    if "amount" in full and "currency" in full:
        full.setdefault(
            "refund_amount", format_money(int(full["amount"]), full["currency"], grouped=False)
        )
    full.setdefault("refund_status", full.get("status", ""))
    reason = full.get("reason") or ""
    full.setdefault("reason_line", f"\nReason: {reason}" if reason else "")
    return full
