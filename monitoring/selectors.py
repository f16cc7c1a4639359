"""The business figures of a scrape, read from the database (right across every process).

One aggregate query per figure and nothing per request. The outbox figures use the
partial index of pending rows; the others scan their table's status column, cheap at
the scrape interval (15-60 s) for tables of millions of rows.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min

from bookings.models import Booking, BookingEvent, BookingStatus
from notifications.models import OutboxMessage
from payments.models import WebhookEvent
from refunds.models import Refund


def bookings_by_status() -> dict[str, int]:
    """Every booking status with its count (0 for a status no booking is in)."""
    counts = dict.fromkeys(BookingStatus.values, 0)
    rows = Booking.objects.order_by().values_list("status").annotate(n=Count("id"))
    counts.update(dict(rows))
    return counts


def holds_expired() -> int:
    """Holds that ran out: a booking's move to EXPIRED, counted once even if a late
    capture confirmed it afterwards."""
    return BookingEvent.objects.filter(to_status=BookingStatus.EXPIRED).count()


def webhook_events() -> dict[tuple[str, str, str], int]:
    """Ledger rows by (gateway, source, outcome): webhooks and reconciliation findings."""
    rows = (
        WebhookEvent.objects.order_by()
        .values_list("gateway", "source", "outcome")
        .annotate(n=Count("id"))
    )
    return {(gateway, source, outcome): n for gateway, source, outcome, n in rows}


def refunds_by_status() -> dict[str, int]:
    counts = dict.fromkeys(Refund.Status.values, 0)
    counts.update(dict(Refund.objects.order_by().values_list("status").annotate(n=Count("id"))))
    return counts


def outbox_backlog() -> tuple[dict[str, int], datetime | None]:
    """Pending outbox rows per channel (0 for a channel with none), and when the oldest
    pending row was written (None when nothing is pending)."""
    pending = OutboxMessage.objects.order_by().filter(status=OutboxMessage.Status.PENDING)
    counts = dict.fromkeys(OutboxMessage.Channel.values, 0)
    counts.update(dict(pending.values_list("channel").annotate(n=Count("id"))))
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    return counts, oldest
