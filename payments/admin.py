"""Support console for payments and the webhook ledger.

Money and gateway facts are read-only (they come from the gateways); support may only
clear or annotate a flag. Webhook events can be inspected (pretty payload) and
replayed through the same service as the ``replay_webhook`` command.
"""

import json
import logging

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from common.admin import ReadOnlyAdmin
from common.admin_time import in_zone
from common.money import format_money
from payments.models import Payment, WebhookEvent
from payments.webhooks import replay_webhook_event

logger = logging.getLogger(__name__)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    # The order id is long and searchable; the list keeps what fits 1400 px.
    list_display = (
        "id",
        "booking_number",
        "gateway",
        "status",
        "amount",
        "captured",
        "flagged",
        "created",
    )
    list_filter = ("gateway", "status", "flagged")
    search_fields = ("order_id", "payment_id", "=booking__id", "booking__customer__email")
    list_select_related = ("booking__partner__city",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "booking",
        "gateway",
        "order_id",
        "payment_id",
        "amount",
        "captured",
        "status",
        "checkout_url",
        "raw_pretty",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields[:-3] + ("flagged", "flag_reason") + readonly_fields[-3:]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    class Media:
        css = {"all": ("common/admin.css",)}

    @admin.display(description="booking", ordering="booking_id")
    def booking_number(self, payment: Payment) -> str:
        url = reverse("admin:bookings_booking_change", args=[payment.booking_id])
        return format_html('<a href="{}">#{}</a>', url, payment.booking_id)

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, payment: Payment) -> str:
        return format_money(payment.amount_minor, payment.currency)

    @admin.display(description="captured", ordering="captured_amount_minor")
    def captured(self, payment: Payment) -> str:
        return format_money(payment.captured_amount_minor, payment.currency)

    @admin.display(description="created (city time)", ordering="created_at")
    def created(self, payment: Payment) -> str:
        return in_zone(payment.created_at, payment.booking.partner.city.time_zone)

    @admin.display(description="gateway response")
    def raw_pretty(self, payment: Payment) -> str:
        return format_html("<pre>{}</pre>", json.dumps(payment.raw, indent=2, sort_keys=True))


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    # The ledger is append-only; replay is the only way to act on it.

    # What fits 1400 px; the gateway's event id (searchable) and processing time are on
    # the page.
    list_display = (
        "id",
        "gateway",
        "event_type",
        "source",
        "outcome",
        "booking_number",
        "received_at",
    )
    list_filter = ("gateway", "source", "event_type", "outcome")
    search_fields = ("event_id", "=booking__id", "detail")
    date_hierarchy = "received_at"
    actions = ("replay",)
    readonly_fields = (
        "gateway",
        "event_id",
        "event_type",
        "source",
        "outcome",
        "detail",
        "booking",
        "received_at",
        "processed_at",
        "payload_pretty",
        "headers_pretty",
        "raw_body",
    )
    fields = readonly_fields

    @admin.display(description="booking", ordering="booking_id")
    def booking_number(self, event: WebhookEvent) -> str:
        return f"#{event.booking_id}" if event.booking_id else "-"

    @admin.display(description="payload")
    def payload_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True))

    @admin.display(description="headers")
    def headers_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.headers, indent=2, sort_keys=True))

    @admin.action(description="Replay selected events (idempotent)")
    def replay(self, request, queryset):
        for event_id in queryset.order_by("received_at", "id").values_list("pk", flat=True):
            try:
                event = replay_webhook_event(event_id=event_id)
            except Exception as exc:  # one bad event must not hide the others' results
                logger.exception("replay of webhook event %s failed", event_id)
                self.message_user(request, f"Event #{event_id}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"Event #{event.pk} ({event.event_type}): {event.outcome} — {event.detail}",
                messages.SUCCESS,
            )
