from django.contrib import admin

from common.models import IdempotencyKey


def without_bulk_delete(actions: dict) -> dict:
    """A list's actions without "Delete selected": partners, slots and messages are
    deactivated, blocked or retried, never deleted in bulk from a list."""
    actions.pop("delete_selected", None)
    return actions


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the admin shows and never edits by hand: no Add, no Save buttons, no Delete,
    and a POST to its page is refused (403). What support may do to it are actions and pages
    of their own that call the owning app's services."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are written by the API only."""

    list_display = ("key", "user", "method", "path", "state", "response_status", "created_at")
    list_filter = ("state", "method")
    search_fields = ("key", "user__email", "path")
    list_select_related = ("user",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
