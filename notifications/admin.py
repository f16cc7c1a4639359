from django.contrib import admin, messages
from django.utils import timezone
from django.utils.text import Truncator

from common.admin import without_bulk_delete
from common.admin_time import in_zone
from notifications.models import OutboxMessage
from notifications.services import retry_messages


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """The outbox as a console: what was sent to whom, what failed, and a retry action.

    Rows never contain one-time codes (they are generated at send time).
    """

    # What fits 1400 px (the channel is a filter; send times are on the page).
    list_display = ["id", "kind", "to", "booking_number", "delivery", "created"]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["recipient", "=booking__id", "subject"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    readonly_fields = [
        "channel",
        "kind",
        "recipient",
        "subject",
        "body",
        "payload",
        "booking",
        "dedupe_key",
        "status",
        "attempts",
        "last_error",
        "available_at",
        "claimed_at",
        "sent_at",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="status", ordering="status")
    def delivery(self, message: OutboxMessage) -> str:
        tries = "1 try" if message.attempts == 1 else f"{message.attempts} tries"
        return f"{message.get_status_display()}, {tries}"

    @admin.display(description="recipient", ordering="recipient")
    def to(self, message: OutboxMessage) -> str:
        return Truncator(message.recipient).chars(36)  # webhook URLs can be long

    @admin.display(description="created", ordering="created_at")
    def created(self, message: OutboxMessage) -> str:
        return in_zone(message.created_at, timezone.get_current_timezone_name())

    @admin.display(description="booking", ordering="booking_id")
    def booking_number(self, message: OutboxMessage) -> str:
        return f"#{message.booking_id}" if message.booking_id else "-"

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        return without_bulk_delete(super().get_actions(request, action_location))

    def has_change_permission(self, request, obj=None) -> bool:
        # Read-only: edits would bypass the dispatcher's claims. Retry is an action.
        return False

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("notifications.change_outboxmessage")

    @admin.action(description="Retry selected failed messages", permissions=["retry"])
    def retry_failed(self, request, queryset) -> None:
        moved = retry_messages(message_ids=queryset.values_list("pk", flat=True))
        skipped = queryset.count() - moved
        self.message_user(request, f"{moved} message(s) queued again.", messages.SUCCESS)
        if skipped > 0:
            self.message_user(
                request, f"{skipped} message(s) were not failed; left alone.", messages.WARNING
            )
