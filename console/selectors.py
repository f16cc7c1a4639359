"""The figures support watches, read once for both the admin dashboard and
``GET /api/v1/support/status``.

Each function is one aggregate query (the broker is asked once), so the dashboard costs a
handful of queries whatever the size of the tables. "Today" and "this week" (from Monday)
are days of the current time zone, as the admin's own date filters count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from common import broker
from notifications.models import OutboxMessage
from payments.models import Payment, WebhookEvent
from refunds.models import Dispute, Refund
from refunds.selectors import needs_attention

# A pending booking's hold ending within this time is "expiring" (it may already be past
# its end, waiting for the expiry sweep).
HOLD_EXPIRY_HORIZON = timedelta(minutes=30)
WEBHOOK_WINDOW = timedelta(hours=1)
OPEN_DISPUTES_SHOWN = 10
# Payments that took money: revenue is what was captured, refunds shown apart.
CAPTURED_STATUSES = (
    Payment.Status.CAPTURED,
    Payment.Status.PARTIALLY_REFUNDED,
    Payment.Status.REFUNDED,
)
REFUND_IN_FLIGHT_STATUSES = (Refund.Status.PENDING, Refund.Status.PROCESSING)
OUTBOX_WATCHED_STATUSES = (OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED)


@dataclass(frozen=True)
class Periods:
    """The time boundaries of one reading, all aware datetimes."""

    now: datetime
    today: datetime  # midnight starting today
    tomorrow: datetime
    week: datetime  # midnight starting this week's Monday
    holds_until: datetime
    webhooks_since: datetime


def periods(*, now: datetime | None = None) -> Periods:
    now = timezone.localtime(now or timezone.now())
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Periods(
        now=now,
        today=today,
        tomorrow=today + timedelta(days=1),
        week=today - timedelta(days=today.weekday()),
        holds_until=now + HOLD_EXPIRY_HORIZON,
        webhooks_since=now - WEBHOOK_WINDOW,
    )


def expiring_holds() -> Q:
    return Q(status=BookingStatus.PENDING_PAYMENT, holds_seats=True, hold_expires_at__isnull=False)


def booking_counts(*, at: Periods) -> dict[str, int]:
    """Bookings made today and this week, and unpaid holds ending within the horizon."""
    return Booking.objects.aggregate(
        today=Count("id", filter=Q(created_at__gte=at.today, created_at__lt=at.tomorrow)),
        week=Count("id", filter=Q(created_at__gte=at.week, created_at__lt=at.tomorrow)),
        holds_expiring=Count("id", filter=expiring_holds() & Q(hold_expires_at__lt=at.holds_until)),
    )


def revenue(*, at: Periods) -> list[dict]:
    """Captured money per currency of the payments made today and this week (minor units)."""
    rows = (
        Payment.objects.filter(
            status__in=CAPTURED_STATUSES, created_at__gte=at.week, created_at__lt=at.tomorrow
        )
        .values("currency")
        .annotate(
            today=Sum("captured_amount_minor", filter=Q(created_at__gte=at.today), default=0),
            week=Sum("captured_amount_minor", default=0),
        )
        .order_by("currency")
    )
    return [
        {"currency": row["currency"], "today_minor": row["today"], "week_minor": row["week"]}
        for row in rows
    ]


def flagged_payments() -> int:
    return Payment.objects.filter(flagged=True).count()


def refund_counts() -> dict[str, int]:
    """Refunds in flight (pending or processing) and those needing attention (as the
    admin's "needs attention" filter)."""
    return Refund.objects.aggregate(
        in_flight=Count("id", filter=Q(status__in=REFUND_IN_FLIGHT_STATUSES)),
        needing_attention=Count("id", filter=needs_attention()),
    )


def outbox_by_kind() -> dict[str, dict[str, int]]:
    """``{"pending": {kind: n}, "failed": {kind: n}}`` of the outbox."""
    counts: dict[str, dict[str, int]] = {status: {} for status in OUTBOX_WATCHED_STATUSES}
    rows = (
        OutboxMessage.objects.filter(status__in=OUTBOX_WATCHED_STATUSES)
        .values("status", "kind")
        .annotate(n=Count("id"))
        .order_by("status", "kind")
    )
    for row in rows:
        counts[row["status"]][row["kind"]] = row["n"]
    return counts


def webhooks_by_outcome(*, at: Periods) -> dict[str, int]:
    """Webhook ledger rows received in the last hour, per outcome."""
    rows = (
        WebhookEvent.objects.filter(received_at__gte=at.webhooks_since)
        .values("outcome")
        .annotate(n=Count("id"))
        .order_by("outcome")
    )
    return {row["outcome"]: row["n"] for row in rows}


def open_dispute_count() -> int:
    return Dispute.objects.filter(status=Dispute.Status.OPEN).count()


def open_disputes(*, limit: int = OPEN_DISPUTES_SHOWN) -> list[Dispute]:
    """The first ``limit`` open disputes by evidence due date (soonest first, those
    without one last, then the oldest)."""
    return list(
        Dispute.objects.filter(status=Dispute.Status.OPEN)
        .select_related("booking")
        .order_by(F("evidence_due_by").asc(nulls_last=True), "created_at", "pk")[:limit]
    )


def queues() -> dict:
    """The broker's state and the tasks waiting per Celery queue (``lengths`` is None when
    the broker cannot be reached, ``{}`` in the embedded in-process mode)."""
    if broker.broker_in_process():
        return {"broker": "in_process", "lengths": {}}
    lengths = broker.queue_lengths(timeout=1.0)
    return {"broker": "error" if lengths is None else "ok", "lengths": lengths}


def support_status(*, now: datetime | None = None) -> dict:
    """Everything ``GET /api/v1/support/status`` answers (the dashboard shows the same)."""
    at = periods(now=now)
    outbox = outbox_by_kind()
    webhooks = webhooks_by_outcome(at=at)
    return {
        "generated_at": at.now,
        "outbox": {
            status: {"total": sum(kinds.values()), "by_kind": kinds}
            for status, kinds in outbox.items()
        },
        "refunds": refund_counts(),
        "payments": {"flagged": flagged_payments()},
        "disputes": {"open": open_dispute_count()},
        "webhooks_last_hour": {"total": sum(webhooks.values()), "by_outcome": webhooks},
        "queues": queues(),
    }
