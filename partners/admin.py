from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.utils import timezone

from common.admin import without_bulk_delete
from common.admin_time import in_zone
from common.money import InvalidMoney, parse_money, to_major
from partners import services
from partners.models import City, Partner, Service, ServiceVariant, Slot, Staff


class ServicesFilter(admin.RelatedFieldListFilter):
    """The partner's services, without the "-" (no service) choice a many-to-many filter
    adds: every partner offers something, and the empty choice confused support."""

    def has_output(self) -> bool:
        return bool(self.lookup_choices)

    @property
    def include_empty_choice(self) -> bool:
        return False


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class ServiceVariantForm(forms.ModelForm):
    """The price typed in major units of the variant's currency (``499.00``), stored exactly
    in minor units (``common.money``); more decimals than the currency has are refused."""

    price = forms.CharField(
        label="Price",
        max_length=24,
        help_text="In the currency, e.g. 499.00.",
        widget=forms.TextInput(attrs={"size": 10, "inputmode": "decimal"}),
    )

    class Meta:
        model = ServiceVariant
        fields = ["name", "tier", "currency", "duration_minutes", "active"]
        widgets = {"currency": forms.TextInput(attrs={"size": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["price"] = str(to_major(self.instance.price_minor, self.instance.currency))

    def clean(self):
        data = super().clean()
        currency, price = data.get("currency"), data.get("price")
        if currency and price:
            try:
                self.instance.price_minor = parse_money(price, currency)
            except InvalidMoney as exc:
                self.add_error("price", str(exc))
        return data


class ServiceVariantInline(admin.TabularInline):
    model = ServiceVariant
    form = ServiceVariantForm
    extra = 0
    fields = ("name", "tier", "price", "currency", "duration_minutes", "active")


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


class StaffInline(admin.TabularInline):
    model = Staff
    extra = 0
    fields = ("name", "phone", "email", "active")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "user", "rating", "verified", "active", "created_at")
    list_filter = ("city", "verified", "active", ("services", ServicesFilter))
    search_fields = ("name", "user__email", "city__name")
    list_select_related = ("city", "user")
    autocomplete_fields = ("user",)
    filter_horizontal = ("services",)
    readonly_fields = ("created_at",)
    inlines = [StaffInline]
    # The actions change partners: a login that may only look (the Support group) gets none.
    actions = ["verify", "deactivate"]

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        return without_bulk_delete(super().get_actions(request, action_location))

    @admin.action(description="Verify selected partners", permissions=["change"])
    def verify(self, request, queryset: QuerySet[Partner]) -> None:
        count = services.verify_partners(partner_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} partner(s) verified.", messages.SUCCESS)

    @admin.action(description="Deactivate selected partners", permissions=["change"])
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


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    form = SlotAdminForm
    list_display = ("id", "partner", "city_time", "seats", "available", "blocked")
    list_filter = (
        AvailabilityFilter,
        ("start", admin.DateFieldListFilter),
        "partner__city",
        "partner",
    )
    search_fields = ("partner__name",)
    date_hierarchy = "start"
    list_select_related = ("partner__city",)
    autocomplete_fields = ("partner",)
    # Seats are inventory changed only by bookings (under the CHECK constraint), never by hand.
    readonly_fields = ("booked", "created_at")
    actions = ["block"]

    class Media:
        css = {"all": ("common/admin.css",)}

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        return without_bulk_delete(super().get_actions(request, action_location))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        zone = timezone.get_current_timezone_name()
        for name in ("start", "end"):
            form.base_fields[name].help_text = f"In {zone}."
        return form

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A slot's times are typed and shown in its city's zone, as its customers see them.
        slot = self.get_object(request, object_id) if object_id else None
        if slot is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with timezone.override(ZoneInfo(slot.partner.city.time_zone)):
            return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="Start – end (city time)", ordering="start")
    def city_time(self, slot: Slot) -> str:
        zone = slot.partner.city.time_zone
        end = timezone.localtime(slot.end, ZoneInfo(zone))
        return f"{in_zone(slot.start, zone)} – {end:%H:%M}"

    @admin.display(description="Booked", ordering="booked")
    def seats(self, slot: Slot) -> str:
        return f"{slot.booked} of {slot.capacity}"

    def save_model(self, request, obj: Slot, form, change: bool) -> None:
        if change:
            # Write only the form's fields: a full save would also write the ``booked``
            # count read when the page was posted, undoing seats booked meanwhile. (A
            # capacity below seats booked meanwhile is still refused by the CHECK.)
            obj.save(update_fields=SlotAdminForm.Meta.fields)
        else:
            obj.save()

    @admin.display(description="Available")
    def available(self, slot: Slot) -> int:
        return slot.available

    @admin.action(description="Block selected slots", permissions=["change"])
    def block(self, request, queryset: QuerySet[Slot]) -> None:
        count = services.block_slots(slot_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} slot(s) blocked.", messages.SUCCESS)
