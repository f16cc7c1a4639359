"""The admin dashboard: the figures of :mod:`console.selectors`, each with a link to the
admin list filtered to exactly the rows it counts.

Links use plain field lookups in the query string (``status__exact``, ``created_at__gte``),
which the admin accepts for a model's own fields whatever its list filters, and the
refunds' *needs attention* filter (``attention=yes``), which counts the same
``refunds.selectors.needs_attention``. A figure of a model the user may not view is left
out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse

from bookings.models import Booking, BookingStatus
from common.money import format_money
from console import selectors
from notifications.models import OutboxMessage
from payments.models import Payment, WebhookEvent
from refunds.models import Dispute, Refund


@dataclass(frozen=True)
class Figure:
    label: str
    value: int | str
    url: str | None = None
    # Figures that should be zero (failures, flags) are highlighted when they are not.
    alarm: bool = False


@dataclass
class Panel:
    title: str
    figures: list[Figure] = field(default_factory=list)


def changelist(model, **params) -> str:
    """The admin list of ``model`` filtered by ``params`` (values as the admin reads them)."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def change_page(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _iso(moment) -> str:
    return moment.isoformat()


def _can_view(user, model) -> bool:
    return user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")


def dashboard(*, user, now=None) -> dict:
    """The dashboard's panels for ``user``: the figures of the models they may view."""
    at = selectors.periods(now=now)
    panels = [
        _bookings_panel(at) if _can_view(user, Booking) else None,
        _revenue_panel(at) if _can_view(user, Payment) else None,
        _attention_panel(user),
        _webhooks_panel(at) if _can_view(user, WebhookEvent) else None,
    ]
    disputes_visible = _can_view(user, Dispute)
    return {
        "panels": [panel for panel in panels if panel is not None and panel.figures],
        "periods": at,
        "disputes": selectors.open_disputes() if disputes_visible else None,
        "disputes_open": selectors.open_dispute_count() if disputes_visible else None,
        "disputes_url": changelist(Dispute, status__exact=Dispute.Status.OPEN),
        "queues": selectors.queues(),
    }


def _bookings_panel(at: selectors.Periods) -> Panel:
    counts = selectors.booking_counts(at=at)
    return Panel(
        "Bookings",
        [
            Figure(
                "Made today",
                counts["today"],
                changelist(
                    Booking, created_at__gte=_iso(at.today), created_at__lt=_iso(at.tomorrow)
                ),
            ),
            Figure(
                "Made this week",
                counts["week"],
                changelist(
                    Booking, created_at__gte=_iso(at.week), created_at__lt=_iso(at.tomorrow)
                ),
            ),
            Figure(
                f"Unpaid holds ending within {_minutes(selectors.HOLD_EXPIRY_HORIZON)} min"
                " or overdue",
                counts["holds_expiring"],
                changelist(
                    Booking,
                    status__exact=BookingStatus.PENDING_PAYMENT,
                    holds_seats__exact=1,
                    hold_expires_at__lt=_iso(at.holds_until),
                ),
            ),
        ],
    )


def _revenue_panel(at: selectors.Periods) -> Panel:
    captured = ",".join(selectors.CAPTURED_STATUSES)
    figures = []
    for row in selectors.revenue(at=at):
        for label, key, since in (
            ("today", "today_minor", at.today),
            ("this week", "week_minor", at.week),
        ):
            figures.append(
                Figure(
                    f"Captured {label} ({row['currency']})",
                    format_money(row[key], row["currency"], grouped=False),
                    changelist(
                        Payment,
                        status__in=captured,
                        currency__exact=row["currency"],
                        created_at__gte=_iso(since),
                        created_at__lt=_iso(at.tomorrow),
                    ),
                )
            )
    if not figures:
        figures.append(Figure("Captured this week", "nothing yet"))
    return Panel("Revenue", figures)


def _attention_panel(user) -> Panel:
    figures = []
    if _can_view(user, Refund):
        refunds = selectors.refund_counts()
        figures += [
            Figure(
                "Refunds needing attention",
                refunds["needing_attention"],
                changelist(Refund, attention="yes"),
                alarm=True,
            ),
            Figure(
                "Refunds in flight",
                refunds["in_flight"],
                changelist(Refund, status__in=",".join(selectors.REFUND_IN_FLIGHT_STATUSES)),
            ),
        ]
    if _can_view(user, Payment):
        figures.append(
            Figure(
                "Flagged payments",
                selectors.flagged_payments(),
                changelist(Payment, flagged__exact=1),
                alarm=True,
            )
        )
    if _can_view(user, OutboxMessage):
        outbox = selectors.outbox_by_kind()
        failed = outbox[OutboxMessage.Status.FAILED]
        figures.append(
            Figure(
                "Outbox failures",
                sum(failed.values()),
                changelist(OutboxMessage, status__exact=OutboxMessage.Status.FAILED),
                alarm=True,
            )
        )
        figures += [
            Figure(
                f"Outbox failures: {kind}",
                count,
                changelist(
                    OutboxMessage, status__exact=OutboxMessage.Status.FAILED, kind__exact=kind
                ),
                alarm=True,
            )
            for kind, count in failed.items()
        ]
        pending = outbox[OutboxMessage.Status.PENDING]
        figures.append(
            Figure(
                "Outbox pending",
                sum(pending.values()),
                changelist(OutboxMessage, status__exact=OutboxMessage.Status.PENDING),
            )
        )
    return Panel("Needs attention", figures)


def _webhooks_panel(at: selectors.Periods) -> Panel:
    outcomes = selectors.webhooks_by_outcome(at=at)
    since = _iso(at.webhooks_since)
    figures = [
        Figure(
            "Received",
            sum(outcomes.values()),
            changelist(WebhookEvent, received_at__gte=since),
        )
    ]
    figures += [
        Figure(
            outcome.capitalize(),
            count,
            changelist(WebhookEvent, received_at__gte=since, outcome__exact=outcome),
            alarm=outcome in (WebhookEvent.Outcome.FLAGGED, WebhookEvent.Outcome.FAILED),
        )
        for outcome, count in outcomes.items()
    ]
    return Panel("Webhook events, last hour", figures)


def _minutes(delta) -> int:
    return int(delta.total_seconds() // 60)
