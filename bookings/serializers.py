from __future__ import annotations

from rest_framework import serializers

from bookings import selectors
from bookings.extensions import extra_fields
from bookings.models import Booking, BookingEvent, BookingStatus
from common.fields import BoundedDateField, with_window_fields
from common.rendering import render, render_many
from partners.models import City, Partner, Service, ServiceVariant
from partners.serializers import SlotSerializer, rating_field


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
    rating = rating_field()

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
    variant_id = serializers.IntegerField(
        allow_null=True,
        help_text="The variant priced: the requested one, else the partner's cheapest "
        "offered variant of the service that fits the slot (null: none is bookable now).",
    )
    price_minor = serializers.IntegerField(
        allow_null=True,
        help_text="The partner's price of that variant per seat, in minor units.",
    )
    currency = serializers.CharField(allow_null=True)


# --- bookings -------------------------------------------------------------------------------


class RescheduleRequestSerializer(serializers.Serializer):
    slot_id = serializers.IntegerField(
        min_value=1, help_text="Another slot of the booking's partner."
    )
    seat_type = serializers.SlugField(
        max_length=32,
        required=False,
        help_text="Seat type on the new slot; default the booking's own (if the new slot "
        "has it, else its `standard` or only type).",
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
    slot_start = serializers.DateTimeField(read_only=True)
    slot_end = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Booking
        fields = [
            "id",
            "status",
            "slot_id",
            "partner_id",
            "variant_id",
            "seat_type",
            "quantity",
            "amount",
            "currency",
            "hold_expires_at",
            "assigned_staff_id",
            "slot_start",
            "slot_end",
            "reschedule_count",
            "reassigned_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        # Fields of higher layers (bookings.extensions), e.g. payments' ``payment``.
        for name, factory in extra_fields.items():
            fields[name] = factory()
        return fields


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


def customer_booking_data(booking: Booking) -> dict:
    """The booking as ``GET bookings/{id}`` shows it to its customer (with the timeline)."""
    queryset = selectors.customer_bookings(customer=booking.customer)
    return BookingDetailSerializer(
        selectors.booking_detail(queryset=queryset, booking_id=booking.pk)
    ).data


def new_booking_data(booking: Booking) -> dict:
    """:func:`customer_booking_data` of a booking :func:`bookings.services.book_slot` just
    created, from the objects in hand instead of reading it back: the same fields in the
    same order, the timeline being its one ``created`` event (``booking.created_event``).
    Rendered with kept serializers (:mod:`common.rendering`): it is every booking's 201."""
    data = render(BookingSerializer, booking)
    data["timeline"] = render_many(BookingEventSerializer, [booking.created_event])
    return {name: data[name] for name in _detail_field_names()}


def _detail_field_names() -> list[str]:
    # BookingDetailSerializer's order: its Meta fields, then the registered extra fields.
    return [*BookingDetailSerializer.Meta.fields, *extra_fields]


def provider_booking_data(booking: Booking) -> dict:
    """The booking as ``GET provider/bookings/{id}`` shows it to its partner."""
    queryset = selectors.partner_bookings(partner=booking.partner)
    return ProviderBookingDetailSerializer(
        selectors.booking_detail(queryset=queryset, booking_id=booking.pk)
    ).data
