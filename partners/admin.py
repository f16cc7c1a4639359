from django import forms
from django.contrib import admin, messages
from django.db.models import F, QuerySet, Sum

from partners import services
from partners.models import (
    City,
    Partner,
    PartnerOffering,
    Service,
    ServiceVariant,
    Slot,
    SlotSeatType,
    Staff,
)


def format_money(amount_minor: int, currency: str) -> str:
    return f"{currency} {amount_minor // 100}.{amount_minor % 100:02d}"


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone", "currency")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class ServiceVariantInline(admin.TabularInline):
    model = ServiceVariant
    extra = 0
    fields = ("name", "tier", "price_minor", "price", "currency", "duration_minutes", "active")
    readonly_fields = ("price",)

    @admin.display(description="Price")
    def price(self, variant: ServiceVariant) -> str:
        if variant.price_minor is None:
            return "-"
        return format_money(variant.price_minor, variant.currency)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "active", "variant_count")
    list_filter = ("active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ServiceVariantInline]

    @admin.display(description="Variants")
    def variant_count(self, service: Service) -> int:
        return service.variants.count()


class PartnerOfferingInline(admin.TabularInline):
    """What the partner offers at which price; support may correct a price or switch an
    offering off (existing bookings keep the price they were made at)."""

    model = PartnerOffering
    extra = 0
    fields = ("variant", "price_minor", "price", "currency", "active", "updated_at")
    readonly_fields = ("price", "updated_at")
    list_select_related = ("variant__service",)

    @admin.display(description="Price")
    def price(self, offering: PartnerOffering) -> str:
        if offering.price_minor is None:
            return "-"
        return format_money(offering.price_minor, offering.currency)


class StaffInline(admin.TabularInline):
    model = Staff
    extra = 0
    fields = ("name", "phone", "email", "active")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "user", "rating", "verified", "active", "created_at")
    list_filter = ("city", "verified", "active", "offerings__variant__service")
    search_fields = ("name", "user__email", "city__name")
    list_select_related = ("city", "user")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)
    inlines = [PartnerOfferingInline, StaffInline]
    actions = ["verify", "deactivate"]

    @admin.action(description="Verify selected partners")
    def verify(self, request, queryset: QuerySet[Partner]) -> None:
        count = services.verify_partners(partner_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} partner(s) verified.", messages.SUCCESS)

    @admin.action(description="Deactivate selected partners")
    def deactivate(self, request, queryset: QuerySet[Partner]) -> None:
        count = services.deactivate_partners(partner_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} partner(s) deactivated.", messages.SUCCESS)


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("name", "partner", "phone", "email", "active")
    list_filter = ("active", "partner__city", "partner")
    search_fields = ("name", "phone", "email", "partner__name")
    list_select_related = ("partner",)
    autocomplete_fields = ("partner",)


class AvailabilityFilter(admin.SimpleListFilter):
    title = "availability"
    parameter_name = "availability"

    def lookups(self, request, model_admin):
        return [("available", "Available"), ("full", "Full"), ("blocked", "Blocked")]

    def queryset(self, request, queryset: QuerySet[Slot]) -> QuerySet[Slot]:
        if self.value() == "available":
            return queryset.filter(blocked=False, booked__lt=F("capacity"))
        if self.value() == "full":
            return queryset.filter(blocked=False, booked__gte=F("capacity"))
        if self.value() == "blocked":
            return queryset.filter(blocked=True)
        return queryset


class SlotAdminForm(forms.ModelForm):
    """The API's slot rules for hand-edited slots: ends after start, fits bookings, and no
    overlap (the model's exclusion constraint ``slot_no_overlap``, checked by model
    validation like any constraint). A slot with bookings keeps its partner and times:
    its bookings carry them (move a booking by rescheduling it)."""

    class Meta:
        model = Slot
        fields = ["partner", "start", "end", "capacity", "blocked"]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "Must be after start.")
        moved = [name for name in ("partner", "start", "end") if name in self.changed_data]
        if self.instance.pk and moved and self.instance.bookings.exists():
            raise forms.ValidationError(
                "This slot has bookings: its partner and times cannot change. "
                "Reschedule the bookings first, or create another slot."
            )
        capacity = data.get("capacity")
        if self.instance.pk and capacity is not None and capacity < self.instance.booked:
            self.add_error("capacity", f"{self.instance.booked} seats are already booked.")
        return data


class SeatTypeForm(forms.ModelForm):
    class Meta:
        model = SlotSeatType
        fields = ["code", "label", "capacity", "price_minor"]

    def clean_capacity(self):
        capacity = self.cleaned_data["capacity"]
        if self.instance.pk and capacity is not None and capacity < self.instance.booked:
            raise forms.ValidationError(f"{self.instance.booked} seats are already booked.")
        return capacity


class SlotSeatTypeInline(admin.TabularInline):
    """The slot's kinds of seats; the slot's capacity is their sum. Seats booked are
    inventory, changed only by bookings; a seat type is never deleted (bookings name it)."""

    model = SlotSeatType
    form = SeatTypeForm
    extra = 0
    fields = ("code", "label", "capacity", "booked", "price_minor")
    readonly_fields = ("booked",)
    can_delete = False


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    form = SlotAdminForm
    inlines = [SlotSeatTypeInline]
    list_display = ("id", "partner", "start", "end", "capacity", "booked", "available", "blocked")
    list_filter = (
        AvailabilityFilter,
        ("start", admin.DateFieldListFilter),
        "partner__city",
        "partner",
    )
    search_fields = ("partner__name",)
    date_hierarchy = "start"
    list_select_related = ("partner",)
    autocomplete_fields = ("partner",)
    # Seats are inventory changed only by bookings (under the CHECK constraint), never by hand.
    readonly_fields = ("booked", "created_at")
    actions = ["block"]

    def get_readonly_fields(self, request, obj=None):
        # A slot of several seat types has their sum as capacity (edit them below).
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.seat_types.count() > 1:
            return (*fields, "capacity")
        return fields

    def save_formset(self, request, form, formset, change: bool) -> None:
        if formset.model is not SlotSeatType:
            return super().save_formset(request, form, formset, change)
        slot = form.instance
        for seat_form in formset.forms:
            if not seat_form.has_changed() or not seat_form.is_valid():
                continue
            data = {name: seat_form.cleaned_data[name] for name in SeatTypeForm.Meta.fields}
            if seat_form.instance.pk:
                # Only the form's fields: ``booked`` moves with bookings meanwhile.
                SlotSeatType.objects.filter(pk=seat_form.instance.pk).update(**data)
            else:
                SlotSeatType.objects.create(slot=slot, **data)
        total = SlotSeatType.objects.filter(slot=slot).aggregate(total=Sum("capacity"))["total"]
        Slot.objects.filter(pk=slot.pk).update(capacity=total)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None

    def save_model(self, request, obj: Slot, form, change: bool) -> None:
        if change:
            # Write only the form's fields: a full save would also write the ``booked``
            # count read when the page was posted, undoing seats booked meanwhile. (A
            # capacity below seats booked meanwhile is still refused by the CHECK.)
            obj.save(update_fields=[f for f in SlotAdminForm.Meta.fields if f in form.cleaned_data])
        else:
            obj.save()

    @admin.display(description="Available")
    def available(self, slot: Slot) -> int:
        return slot.available

    @admin.action(description="Block selected slots")
    def block(self, request, queryset: QuerySet[Slot]) -> None:
        count = services.block_slots(slot_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} slot(s) blocked.", messages.SUCCESS)
