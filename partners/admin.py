from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from common.admin import without_bulk_delete
from common.admin_time import in_zone
from common.money import InvalidMoney, parse_money, to_major
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
    validate_price_minor,
)


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
    list_display = ("name", "slug", "time_zone", "currency")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class PriceForm(forms.ModelForm):
    """A ``price_minor`` typed in major units of its currency (``499.00``), stored exactly in
    minor units (``common.money``); more decimals than the currency has are refused, and
    the model's bounds (``validate_price_minor``) still apply."""

    price = forms.CharField(
        label="Price",
        max_length=24,
        help_text="In the currency, e.g. 499.00.",
        widget=forms.TextInput(attrs={"size": 10, "inputmode": "decimal"}),
    )

    def price_currency(self, data: dict) -> str:
        return data.get("currency") or self.instance.currency

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.price_minor is not None:
            currency = self.price_currency({})
            self.initial["price"] = str(to_major(self.instance.price_minor, currency))

    def clean(self):
        data = super().clean()
        currency, price = self.price_currency(data), data.get("price")
        if not price:
            self.instance.price_minor = None
            return data
        try:
            self.instance.price_minor = parse_money(price, currency)
            validate_price_minor(self.instance.price_minor)
        except InvalidMoney as exc:
            self.add_error("price", str(exc))
        except ValidationError as exc:
            self.add_error("price", exc.messages[0])
        return data


class ServiceVariantForm(PriceForm):
    class Meta:
        model = ServiceVariant
        fields = ["name", "tier", "currency", "duration_minutes", "active"]
        widgets = {"currency": forms.TextInput(attrs={"size": 4})}


class PartnerOfferingForm(PriceForm):
    class Meta:
        model = PartnerOffering
        fields = ["variant", "currency", "active"]
        widgets = {"currency": forms.TextInput(attrs={"size": 4})}


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


class PartnerOfferingInline(admin.TabularInline):
    """What the partner offers at which price; support may correct a price or switch an
    offering off (existing bookings keep the price they were made at)."""

    model = PartnerOffering
    form = PartnerOfferingForm
    extra = 0
    fields = ("variant", "price", "currency", "active", "updated_at")
    readonly_fields = ("updated_at",)
    list_select_related = ("variant__service",)


class StaffInline(admin.TabularInline):
    model = Staff
    extra = 0
    fields = ("name", "phone", "email", "active")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "user", "rating", "verified", "active", "created_at")
    list_filter = ("city", "verified", "active", ("offerings__variant__service", ServicesFilter))
    search_fields = ("name", "user__email", "city__name")
    list_select_related = ("city", "user")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)
    inlines = [PartnerOfferingInline, StaffInline]
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


class SeatTypeForm(PriceForm):
    """A seat type's own price is optional: empty means the partner's offering price."""

    price = forms.CharField(
        label="Own price",
        max_length=24,
        required=False,
        help_text="In the city's currency; empty: the partner's price.",
        widget=forms.TextInput(attrs={"size": 10, "inputmode": "decimal"}),
    )

    class Meta:
        model = SlotSeatType
        fields = ["code", "label", "capacity"]

    def price_currency(self, data: dict) -> str:
        slot = getattr(self.instance, "slot", None)
        partner = getattr(slot, "partner", None) if slot is not None else None
        return partner.city.price_currency if partner else settings.DEFAULT_CURRENCY

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
    fields = ("code", "label", "capacity", "booked", "price")
    readonly_fields = ("booked",)
    can_delete = False


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    form = SlotAdminForm
    inlines = [SlotSeatTypeInline]
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
            if name in form.base_fields:  # not for a view-only user (support): no form fields
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
            data["price_minor"] = seat_form.instance.price_minor
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

    @admin.action(description="Block selected slots", permissions=["change"])
    def block(self, request, queryset: QuerySet[Slot]) -> None:
        count = services.block_slots(slot_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} slot(s) blocked.", messages.SUCCESS)
