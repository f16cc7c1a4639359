from django.contrib import admin
from django.utils.html import format_html

from bookings.models import WaitlistEntry
from common.admin import ReadOnlyAdmin
from common.admin_time import in_zone


class SlotDateFilter(admin.DateFieldListFilter):
    title = "slot date"


# The booking page is in refunds.admin_bookings: it shows and acts on the booking's
# payment, refunds and disputes, which live above this app.


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    """Read-only: entries are written by bookings.waitlist (join, leave, promotion)."""

    # What fits 1400 px; the slot's partner and the offer's details are on the page.
    list_display = (
        "id",
        "status",
        "slot_start",
        "customer",
        "quantity",
        "offered_booking_number",
        "offer_expires",
    )
    list_filter = ("status", ("slot__start", SlotDateFilter), "created_at")
    search_fields = ("=id", "=slot__id", "customer__email")
    list_select_related = ("slot__partner__city", "customer")
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

    @admin.display(description="Slot (city time)", ordering="slot__start")
    def slot_start(self, entry: WaitlistEntry) -> str:
        return format_html(
            "#{} {}", entry.slot_id, in_zone(entry.slot.start, entry.slot.partner.city.time_zone)
        )

    @admin.display(description="Offered booking", ordering="offered_booking_id")
    def offered_booking_number(self, entry: WaitlistEntry) -> str:
        return f"#{entry.offered_booking_id}" if entry.offered_booking_id else "-"

    @admin.display(description="Offer expires", ordering="offer_expires_at")
    def offer_expires(self, entry: WaitlistEntry) -> str:
        return in_zone(entry.offer_expires_at, entry.slot.partner.city.time_zone)
