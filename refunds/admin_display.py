"""Read-only HTML fragments of the support console: admin links, the booking timeline and
the booking's payment with its refunds (shown beside refunds and disputes)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from bookings.models import BookingEvent
from payments.models import Payment
from refunds import services
from refunds.models import Refund


def admin_link(obj, label=None) -> str:
    if obj is None:
        return "-"
    meta = obj._meta
    try:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(label or obj)
    return format_html('<a href="{}">{}</a>', url, label or obj)


def money_display(amount: int | None, currency: str) -> str:
    return "-" if amount is None else f"{amount} {currency} (minor units)"


def booking_timeline_html(booking_id: int) -> str:
    events = BookingEvent.objects.filter(booking_id=booking_id).select_related("actor")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{} &rarr; {}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                e.at.isoformat(timespec="seconds"),
                e.kind,
                e.from_status or "-",
                e.to_status or "-",
                e.actor or e.actor_label or "system",
                e.reason,
            )
            for e in events
        ),
    )
    return format_html(
        "<table><tr><th>at</th><th>kind</th><th>status</th><th>actor</th><th>reason</th></tr>"
        "{}</table>",
        rows,
    )


def booking_payments_html(booking_id: int) -> str:
    payment = Payment.objects.filter(booking_id=booking_id).first()
    if payment is None:
        return "No payment."
    refunds = Refund.objects.filter(payment=payment)
    refund_rows = format_html_join(
        "",
        "<li>{} {} {} ({}, {})</li>",
        (
            (admin_link(r, f"#{r.pk}"), r.amount_minor, r.currency, r.source, r.status)
            for r in refunds
        ),
    )
    return format_html(
        "<p>{} {}: {} status {}, captured {}, refundable now {}{}</p><ul>{}</ul>",
        payment.gateway,
        admin_link(payment, payment.order_id),
        payment.payment_id or "-",
        payment.status,
        money_display(payment.captured_amount_minor, payment.currency),
        money_display(services.refundable_amount(payment=payment), payment.currency),
        " — FLAGGED: " + payment.flag_reason if payment.flagged else "",
        refund_rows,
    )
