from django.contrib import admin
from django.utils import timezone

from otp.models import BookingOtp
from otp.services import MAX_WRONG_ATTEMPTS


@admin.register(BookingOtp)
class BookingOtpAdmin(admin.ModelAdmin):
    """Codes as status only: the hash is never shown, nothing can be added or edited."""

    # What fits 1400 px; used and superseded times are on the page (and in "state").
    list_display = [
        "id",
        "booking_number",
        "purpose",
        "state",
        "attempts",
        "expires_at",
        "created_at",
    ]
    list_filter = ["purpose", ("used_at", admin.EmptyFieldListFilter)]
    search_fields = ["=booking__id"]
    exclude = ["code_hash"]
    readonly_fields = [
        "booking",
        "purpose",
        "state",
        "expires_at",
        "attempts",
        "used_at",
        "superseded_at",
        "created_at",
    ]
    date_hierarchy = "created_at"

    @admin.display(description="booking", ordering="booking_id")
    def booking_number(self, obj: BookingOtp) -> str:
        return f"#{obj.booking_id}"

    @admin.display(description="state")
    def state(self, obj: BookingOtp) -> str:
        if obj.used_at:
            return "used"
        if obj.superseded_at:
            return "superseded"
        if obj.attempts >= MAX_WRONG_ATTEMPTS:
            return "locked"
        if obj.expires_at <= timezone.now():
            return "expired"
        return "active"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
