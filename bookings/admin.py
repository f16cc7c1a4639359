from django.contrib import admin

from bookings.models import Booking, BookingEvent, WaitlistEntry


def format_money(amount_minor: int, currency: str) -> str:
    return f"{currency} {amount_minor // 100}.{amount_minor % 100:02d}"


class BookingEventInline(admin.TabularInline):
    """The timeline, read-only: it is an audit log written by the services."""

    model = BookingEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "from_status", "to_status", "actor", "actor_label", "reason", "data")
    readonly_fields = fields
    ordering = ("at", "id")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class SlotDateFilter(admin.DateFieldListFilter):
    title = "slot date"


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "customer",
        "partner",
        "city",
        "slot_start",
        "quantity",
        "amount",
        "hold_expires_at",
        "created_at",
    )
    list_filter = (
        "status",
        ("partner__city", admin.RelatedOnlyFieldListFilter),
        ("partner", admin.RelatedOnlyFieldListFilter),
        ("slot__start", SlotDateFilter),
        "created_at",
    )
    search_fields = ("=id", "customer__email", "partner__name")
    list_select_related = ("customer", "partner", "partner__city", "slot")
    date_hierarchy = "created_at"
    # Everything is changed by the services only (status via transitions, with a timeline).
    readonly_fields = (
        "customer",
        "slot",
        "partner",
        "variant",
        "quantity",
        "amount_minor",
        "currency",
        "amount",
        "status",
        "holds_seats",
        "hold_expires_at",
        "assigned_staff",
        "created_at",
        "updated_at",
    )
    inlines = [BookingEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, booking: Booking) -> str:
        return format_money(booking.amount_minor, booking.currency)

    @admin.display(description="City", ordering="partner__city__name")
    def city(self, booking: Booking) -> str:
        return booking.partner.city.name

    @admin.display(description="Slot", ordering="slot__start")
    def slot_start(self, booking: Booking):
        return booking.slot.start


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
