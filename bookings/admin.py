from django.contrib import admin

from bookings.models import WaitlistEntry


class SlotDateFilter(admin.DateFieldListFilter):
    title = "slot date"


# The booking page is in refunds.admin_bookings: it shows and acts on the booking's
# payment, refunds and disputes, which live above this app.


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are written by bookings.waitlist (join, leave, promotion)."""

    list_display = (
        "id",
        "status",
        "slot",
        "slot_start",
        "customer",
        "quantity",
        "offered_booking",
        "offer_expires_at",
        "created_at",
    )
    list_filter = ("status", ("slot__start", SlotDateFilter), "created_at")
    search_fields = ("=id", "=slot__id", "customer__email")
    list_select_related = ("slot", "customer", "offered_booking")
    readonly_fields = (
        "slot",
        "customer",
        "variant",
        "quantity",
        "status",
        "offered_booking",
        "offered_at",
        "offer_expires_at",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Slot start", ordering="slot__start")
    def slot_start(self, entry: WaitlistEntry):
        return entry.slot.start
