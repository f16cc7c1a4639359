"""Read-only HTML fragments of the support console: admin links, the booking timeline and
the booking's payment with its refunds and disputes (shown on the booking, refund and
dispute pages). Money in major units of its currency, times in the booking's city zone."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from bookings.models import Booking, BookingEvent
from common.admin_time import in_zone
from common.money import format_money
from payments.models import Payment
from refunds import services
from refunds.models import Dispute, Refund

# Timeline data keys already said by the entry's money, status or reason.
_SAID_ELSEWHERE = {"amount", "lost", "currency"}


def admin_link(obj, label=None) -> str:
    if obj is None:
        return "-"
    meta = obj._meta
    try:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(label or obj)
    return format_html('<a href="{}">{}</a>', url, label or obj)


def booking_zone(booking: Booking) -> str:
    return booking.partner.city.time_zone


def _who(event: BookingEvent) -> str:
    if event.actor is not None:
        return event.actor.email
    return event.actor_label or "system"


def _what(event: BookingEvent) -> str:
    what = event.kind.replace("_", " ")
    if event.to_status:
        what += f": {event.from_status or '-'} → {event.to_status}"
    return what


def _money(event: BookingEvent, currency: str) -> str:
    amount = event.data.get("amount", event.data.get("lost")) if event.data else None
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        return ""
    return format_money(amount, event.data.get("currency") or currency)


def _details(event: BookingEvent) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    parts = [f"{key}: {value}" for key, value in data.items() if key not in _SAID_ELSEWHERE]
    return ", ".join(parts)


def booking_timeline_html(booking_id: int) -> str:
    """The timeline as a list, one entry per line: time (city zone), who, what, money,
    then the reason and the remaining details in small print (wrapped, never cut)."""
    booking = Booking.objects.select_related("partner__city").filter(pk=booking_id).first()
    if booking is None:
        return "-"
    zone = booking_zone(booking)
    events = BookingEvent.objects.filter(booking_id=booking_id).select_related("actor")
    items = format_html_join(
        "",
        '<li><span class="sw-when">{}</span> <strong>{}</strong> — {}'
        ' <span class="sw-money">{}</span><div class="sw-small">{}{}</div></li>',
        (
            (
                in_zone(event.at, zone),
                _what(event),
                _who(event),
                _money(event, booking.currency),
                event.reason,
                format_html(" <code>{}</code>", _details(event)) if _details(event) else "",
            )
            for event in events
        ),
    )
    return format_html('<ol class="sw-timeline">{}</ol>', items)


def _flag(payment: Payment) -> str:
    if not payment.flagged:
        return ""
    return format_html(" — <strong>FLAGGED</strong>: {}", payment.flag_reason)


def booking_payments_html(booking_id: int) -> str:
    """The booking's payment (captured, refundable now, flag), its refunds and disputes."""
    payment = Payment.objects.filter(booking_id=booking_id).first()
    if payment is None:
        return "No payment."
    currency = payment.currency
    refunds = Refund.objects.filter(payment=payment).order_by("pk")
    refund_rows = format_html_join(
        "",
        "<li>{} {} — {}, {}</li>",
        (
            (
                admin_link(r, f"Refund #{r.pk}"),
                format_money(r.amount_minor, currency),
                r.source,
                r.status,
            )
            for r in refunds
        ),
    )
    disputes = Dispute.objects.filter(booking_id=booking_id).order_by("pk")
    dispute_rows = format_html_join(
        "",
        "<li>{} — {} {}</li>",
        (
            (admin_link(d, f"Dispute #{d.pk}"), d.status, Truncator(d.reason).chars(80))
            for d in disputes
        ),
    )
    return format_html(
        "<p>{} payment {} ({}): amount {}, captured {}, <strong>refundable now {}</strong>{}</p>"
        '<ul class="sw-list">{}{}</ul>',
        payment.gateway,
        admin_link(payment, payment.order_id),
        payment.status,
        format_money(payment.amount_minor, currency),
        format_money(payment.captured_amount_minor, currency),
        format_money(services.refundable_amount(payment=payment), currency),
        _flag(payment),
        refund_rows,
        dispute_rows,
    )
