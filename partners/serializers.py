from rest_framework import serializers

from common.fields import AwareDateTimeField, SlugRelatedField, with_window_fields
from partners.models import City, Partner, Service, ServiceVariant, Slot, Staff

MAX_SLOTS_PER_REQUEST = 200


class CitySerializer(serializers.ModelSerializer):
    class Meta:
        model = City
        fields = ["id", "name", "slug", "time_zone"]


class VariantSerializer(serializers.ModelSerializer):
    amount = serializers.IntegerField(
        source="price_minor", read_only=True, help_text="Price in minor units (paise, cents)."
    )

    class Meta:
        model = ServiceVariant
        fields = ["id", "name", "tier", "amount", "price_minor", "currency", "duration_minutes"]


class ServiceSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "variants"]


class ServiceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug"]


class PartnerSerializer(serializers.ModelSerializer):
    city = CitySerializer(read_only=True)
    services = ServiceRefSerializer(many=True, read_only=True)
    rating = serializers.DecimalField(max_digits=3, decimal_places=2, coerce_to_string=False)

    class Meta:
        model = Partner
        fields = ["id", "name", "city", "services", "rating", "verified"]


class SlotSerializer(serializers.ModelSerializer):
    partner_id = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(read_only=True, help_text="Seats that can be booked.")

    class Meta:
        model = Slot
        fields = ["id", "partner_id", "start", "end", "capacity", "booked", "available", "blocked"]


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


class SlotInputSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    capacity = serializers.IntegerField(min_value=1, max_value=10_000, default=1)

    def validate(self, attrs: dict) -> dict:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
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
