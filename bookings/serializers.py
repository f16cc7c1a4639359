from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.models import Booking, BookingEvent, BookingStatus
from common.fields import BoundedDateField, with_window_fields
from partners.models import City, Partner, Service, ServiceVariant
from partners.serializers import SlotSerializer
from payments.models import Gateway
from payments.serializers import PaymentHandleSerializer


def _check_window(attrs: dict) -> dict:
    if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
        raise serializers.ValidationError({"to": ["Must not be before `from`."]})
    return attrs


# --- assignment -----------------------------------------------------------------------------


class AssignRequestSerializer(serializers.Serializer):
    city = serializers.SlugRelatedField(slug_field="slug", queryset=City.objects.all())
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.filter(active=True)
    )
    variant = serializers.PrimaryKeyRelatedField(
        queryset=ServiceVariant.objects.filter(active=True),
        required=False,
        allow_null=True,
        help_text="Variant of `service` the job is for: only slots at least its "
        "`duration_minutes` long are considered. Omitted: slots long enough for the "
        "service's shortest active variant.",
    )

    def get_fields(self):
        return with_window_fields(
            super().get_fields(),
            help_from="Earliest slot start (ISO 8601); default now.",
            help_to="Latest slot start (ISO 8601, inclusive).",
        )

    def validate(self, attrs):
        variant = attrs.get("variant")
        if variant is not None and variant.service_id != attrs["service"].pk:
            raise serializers.ValidationError({"variant": ["Not a variant of this service."]})
        return _check_window(attrs)


class AssignedPartnerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name", "rating", "city_id"]


class AssignmentSerializer(serializers.Serializer):
    """The chosen partner, the slot it would use, and the ranking inputs."""

    partner = AssignedPartnerSerializer()
    slot = SlotSerializer()
    day_bookings = serializers.IntegerField(
        help_text="Seat-holding bookings of the partner on the slot's day (city time zone)."
    )


# --- bookings -------------------------------------------------------------------------------


class BookingCreateSerializer(serializers.Serializer):
    slot_id = serializers.IntegerField(min_value=1)
    variant_id = serializers.IntegerField(
        min_value=1,
        help_text="A variant the slot's partner offers (else 400 `variant_not_offered`) "
        "whose `duration_minutes` fits in the slot, `end - start` (else 400 "
        "`variant_does_not_fit`).",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=100, default=1)
    gateway = serializers.ChoiceField(
        choices=Gateway.choices,
        required=False,
        allow_null=True,
        help_text="Payment gateway; default PAYMENT_DEFAULT_GATEWAY.",
    )


class BookingEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = BookingEvent
        fields = ["kind", "from_status", "to_status", "actor", "reason", "at"]

    def get_fields(self):
        fields = super().get_fields()
        # The API names the timeline's ends ``from`` / ``to``.
        fields["from"] = fields.pop("from_status")
        fields["to"] = fields.pop("to_status")
        fields["from"].source = "from_status"
        fields["to"].source = "to_status"
        return fields

    def get_actor(self, event: BookingEvent) -> str:
        if event.actor_label:
            return event.actor_label
        return event.actor.role if event.actor_id and event.actor else "system"

    def to_representation(self, instance):
        data = super().to_representation(instance)
        order = ["kind", "from", "to", "actor", "reason", "at"]
        return {name: data[name] for name in order}


class BookingSerializer(serializers.ModelSerializer):
    slot_id = serializers.IntegerField(read_only=True)
    partner_id = serializers.IntegerField(read_only=True)
    variant_id = serializers.IntegerField(read_only=True)
    assigned_staff_id = serializers.IntegerField(read_only=True, allow_null=True)
    amount = serializers.IntegerField(source="amount_minor", read_only=True)
    slot_start = serializers.DateTimeField(source="slot.start", read_only=True)
    slot_end = serializers.DateTimeField(source="slot.end", read_only=True)
    payment = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "status",
            "slot_id",
            "partner_id",
            "variant_id",
            "quantity",
            "amount",
            "currency",
            "hold_expires_at",
            "assigned_staff_id",
            "slot_start",
            "slot_end",
            "payment",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PaymentHandleSerializer(allow_null=True))
    def get_payment(self, booking: Booking):
        payment = getattr(booking, "payment", None)  # reverse one-to-one: None when absent
        return PaymentHandleSerializer(payment).data if payment is not None else None


class BookingDetailSerializer(BookingSerializer):
    timeline = BookingEventSerializer(source="events", many=True, read_only=True)

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "timeline"]
        read_only_fields = fields


class ProviderBookingSerializer(BookingSerializer):
    customer_id = serializers.IntegerField(read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "customer_id", "customer_name"]
        read_only_fields = fields


class ProviderBookingDetailSerializer(ProviderBookingSerializer):
    timeline = BookingEventSerializer(source="events", many=True, read_only=True)

    class Meta(ProviderBookingSerializer.Meta):
        fields = [*ProviderBookingSerializer.Meta.fields, "timeline"]
        read_only_fields = fields


class BookingListQuerySerializer(serializers.Serializer):
    status = serializers.CharField(
        required=False,
        help_text="One status or a comma-separated list, e.g. CONFIRMED,PENDING_PAYMENT.",
    )
    date = BoundedDateField(
        required=False, help_text="Slot start date in the city's time zone (YYYY-MM-DD)."
    )

    def get_fields(self):
        return with_window_fields(
            super().get_fields(),
            help_from="Slot start at or after this instant (ISO 8601).",
            help_to="Slot start before this instant (ISO 8601).",
        )

    def validate_status(self, value: str) -> list[str]:
        statuses = [item.strip().upper() for item in value.split(",") if item.strip()]
        unknown = sorted(set(statuses) - set(BookingStatus.values))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown status {', '.join(unknown)}; one of {', '.join(BookingStatus.values)}."
            )
        return statuses

    def validate(self, attrs):
        return _check_window(attrs)
