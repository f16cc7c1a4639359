from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.fields import AwareDateTimeField, SlugRelatedField, with_window_fields
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

MAX_SLOTS_PER_REQUEST = 200
MAX_SLOT_CAPACITY = 10_000
MAX_SEAT_TYPES = 20


class CitySerializer(serializers.ModelSerializer):
    class Meta:
        model = City
        fields = ["id", "name", "slug", "time_zone"]


def rating_field() -> serializers.DecimalField:
    """A partner's rating, 0.00-5.00: a JSON number everywhere (never a string)."""
    return serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        coerce_to_string=False,
        read_only=True,
        help_text="0 to 5, a JSON number (e.g. 4.6).",
    )


class VariantSerializer(serializers.ModelSerializer):
    price_minor = serializers.IntegerField(
        read_only=True,
        help_text="List price in minor units (paise, cents); partners set their own.",
    )

    class Meta:
        model = ServiceVariant
        fields = ["id", "name", "tier", "price_minor", "currency", "duration_minutes"]


class ServiceSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "variants"]


class ServiceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug"]


class PartnerOfferingSerializer(serializers.ModelSerializer):
    """An offering as customers see it: the variant and the partner's price."""

    variant_id = serializers.IntegerField(read_only=True)
    service_id = serializers.IntegerField(source="variant.service_id", read_only=True)
    service = serializers.SlugField(source="variant.service.slug", read_only=True)
    name = serializers.CharField(source="variant.name", read_only=True)
    tier = serializers.CharField(source="variant.tier", read_only=True)
    duration_minutes = serializers.IntegerField(source="variant.duration_minutes", read_only=True)
    price_minor = serializers.IntegerField(
        read_only=True, help_text="The partner's price in minor units."
    )

    class Meta:
        model = PartnerOffering
        fields = [
            "variant_id",
            "service_id",
            "service",
            "name",
            "tier",
            "duration_minutes",
            "price_minor",
            "currency",
        ]


class PartnerSerializer(serializers.ModelSerializer):
    """Reads ``active_offerings`` (:func:`partners.selectors.public_partners`)."""

    city = CitySerializer(read_only=True)
    services = serializers.SerializerMethodField(
        help_text="Services the partner offers (of its active offerings)."
    )
    offerings = PartnerOfferingSerializer(source="active_offerings", many=True, read_only=True)
    rating = rating_field()

    class Meta:
        model = Partner
        fields = ["id", "name", "city", "services", "offerings", "rating", "verified"]

    @extend_schema_field(ServiceRefSerializer(many=True))
    def get_services(self, partner: Partner) -> list[dict]:
        unique = {o.variant.service_id: o.variant.service for o in partner.active_offerings}
        services = sorted(unique.values(), key=lambda service: (service.name, service.pk))
        return ServiceRefSerializer(services, many=True).data


class ProviderOfferingSerializer(PartnerOfferingSerializer):
    """The partner's own offering (``provider/offerings``), active or not."""

    class Meta(PartnerOfferingSerializer.Meta):
        fields = ["id", *PartnerOfferingSerializer.Meta.fields, "active", "updated_at"]


def _active_variants():
    return ServiceVariant.objects.filter(active=True, service__active=True)


class OfferingCreateSerializer(serializers.Serializer):
    variant_id = serializers.PrimaryKeyRelatedField(
        queryset=_active_variants(), help_text="An active catalog variant (`GET /services`)."
    )
    price_minor = serializers.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        help_text="Your price in minor units, at most `OFFERING_MAX_PRICE_MINOR`.",
    )
    active = serializers.BooleanField(default=True)


class OfferingUpdateSerializer(serializers.Serializer):
    price_minor = serializers.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        required=False,
        help_text="Your price in minor units, at most `OFFERING_MAX_PRICE_MINOR`.",
    )
    active = serializers.BooleanField(required=False)


class SeatTypeSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="display_label", read_only=True)
    available = serializers.SerializerMethodField(
        help_text="Seats of this type that can be booked."
    )
    price_minor = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Price per seat in minor units; null: the partner's offering price.",
    )

    class Meta:
        model = SlotSeatType
        fields = ["code", "label", "capacity", "booked", "available", "price_minor"]

    def get_available(self, seat: SlotSeatType) -> int:
        return 0 if seat.slot.blocked else seat.available


class SlotSerializer(serializers.ModelSerializer):
    """``capacity``, ``booked`` and ``available`` are the totals over ``seat_types``
    (prefetch them: :func:`partners.selectors.partner_slots`)."""

    partner_id = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(read_only=True, help_text="Seats that can be booked.")
    seat_types = SeatTypeSerializer(many=True, read_only=True)

    class Meta:
        model = Slot
        fields = [
            "id",
            "partner_id",
            "start",
            "end",
            "capacity",
            "booked",
            "available",
            "blocked",
            "seat_types",
        ]


class PartnerListQuerySerializer(serializers.Serializer):
    city = SlugRelatedField(
        slug_field="slug", queryset=City.objects.all(), required=False, help_text="City slug."
    )
    service = SlugRelatedField(
        slug_field="slug",
        queryset=Service.objects.filter(active=True),
        required=False,
        help_text="Service slug.",
    )


class SlotWindowQuerySerializer(serializers.Serializer):
    """``?from=&to=`` (ISO 8601): slots starting in ``[from, to)``."""

    def get_fields(self):
        return with_window_fields(
            super().get_fields(),
            help_from="Earliest start (inclusive).",
            help_to="Latest start (exclusive).",
        )

    def validate(self, attrs: dict) -> dict:
        start_from, start_to = attrs.get("from"), attrs.get("to")
        if start_from and start_to and start_to <= start_from:
            raise serializers.ValidationError({"to": ["Must be after from."]})
        return attrs


class PublicSlotQuerySerializer(SlotWindowQuerySerializer):
    all = serializers.BooleanField(
        default=False, help_text="Also list full, blocked and started slots."
    )


class ProviderSlotQuerySerializer(SlotWindowQuerySerializer):
    available = serializers.BooleanField(
        default=False, help_text="Only slots customers can still book."
    )


class SeatTypeInputSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=32, help_text="e.g. regular, front, vip.")
    label = serializers.CharField(max_length=64, required=False, default="")
    capacity = serializers.IntegerField(min_value=1, max_value=MAX_SLOT_CAPACITY)
    price_minor = serializers.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        required=False,
        allow_null=True,
        default=None,
        help_text="Price per seat (minor units, at most `OFFERING_MAX_PRICE_MINOR`); "
        "omitted: the partner's offering price.",
    )

    def validate_price_minor(self, value: int | None) -> int | None:
        top = settings.OFFERING_MAX_PRICE_MINOR
        if value is not None and value > top:
            raise serializers.ValidationError(f"Must be at most {top}.")
        return value


class SlotInputSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    capacity = serializers.IntegerField(
        min_value=1,
        max_value=MAX_SLOT_CAPACITY,
        default=1,
        help_text="Seats of the one `standard` seat type; ignored with `seat_types`.",
    )
    seat_types = SeatTypeInputSerializer(
        many=True,
        required=False,
        allow_empty=False,
        max_length=MAX_SEAT_TYPES,
        help_text="Kinds of seats, each with its capacity and optional price; the slot's "
        "capacity is their sum. Omitted: one `standard` type of `capacity` seats.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        seat_types = attrs.get("seat_types") or []
        codes = [seat["code"] for seat in seat_types]
        if len(set(codes)) != len(codes):
            raise serializers.ValidationError({"seat_types": ["Codes must be unique."]})
        if sum(seat["capacity"] for seat in seat_types) > MAX_SLOT_CAPACITY:
            raise serializers.ValidationError(
                {"seat_types": [f"At most {MAX_SLOT_CAPACITY} seats in all."]}
            )
        return attrs


class SlotBulkCreateSerializer(serializers.Serializer):
    slots = SlotInputSerializer(many=True, allow_empty=False, max_length=MAX_SLOTS_PER_REQUEST)


class SlotListSerializer(serializers.Serializer):
    slots = SlotSerializer(many=True)


class StaffSerializer(serializers.ModelSerializer):
    partner_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Staff
        fields = ["id", "partner_id", "name", "phone", "email", "active", "created_at"]
        read_only_fields = ["id", "partner_id", "active", "created_at"]


class StaffUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Staff
        fields = ["name", "phone", "email", "active"]
