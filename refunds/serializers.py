from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.serializers import BookingDetailSerializer, ProviderBookingDetailSerializer
from refunds.models import Dispute, Refund


class CancelRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class RefundSummarySerializer(serializers.Serializer):
    """The refund of a cancellation; every field is null when nothing was refundable."""

    id = serializers.IntegerField(allow_null=True)
    amount = serializers.IntegerField(allow_null=True, help_text="Minor units.")
    currency = serializers.CharField(allow_null=True)
    percent = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=Refund.Status.choices, allow_null=True)
    policy_version = serializers.IntegerField(allow_null=True)


def refund_summary(refund: Refund | None) -> dict:
    if refund is None:
        return dict.fromkeys(RefundSummarySerializer().fields)
    return {
        "id": refund.pk,
        "amount": refund.amount_minor,
        "currency": refund.currency,
        "percent": refund.percent,
        "status": refund.status,
        "policy_version": refund.policy_version,
    }


class _WithRefund(serializers.Serializer):
    refund = serializers.SerializerMethodField()

    @extend_schema_field(RefundSummarySerializer)
    def get_refund(self, booking) -> dict:
        return refund_summary(self.context.get("refund"))


class CancelledBookingSerializer(_WithRefund, BookingDetailSerializer):
    class Meta(BookingDetailSerializer.Meta):
        fields = [*BookingDetailSerializer.Meta.fields, "refund"]
        read_only_fields = fields


class ProviderCancelledBookingSerializer(_WithRefund, ProviderBookingDetailSerializer):
    outcome = serializers.SerializerMethodField(
        help_text="`refunded`: the booking is CANCELLED (with `refund`); `reassigned`: "
        "another partner took it over (new `partner_id` and `slot_id`, still CONFIRMED, "
        "no refund)."
    )

    class Meta(ProviderBookingDetailSerializer.Meta):
        fields = [*ProviderBookingDetailSerializer.Meta.fields, "refund", "outcome"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["refunded", "reassigned"]))
    def get_outcome(self, booking) -> str:
        return self.context.get("outcome", "refunded")


class DisputeCreateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class DisputeSerializer(serializers.ModelSerializer):
    booking_id = serializers.IntegerField(read_only=True)
    refund_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "booking_id",
            "source",
            "status",
            "reason",
            "resolution_note",
            "refund_id",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields


class ManualRefundSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, help_text="Minor units (paise, cents).")
    reason = serializers.CharField(max_length=255)


class RefundSerializer(serializers.ModelSerializer):
    booking_id = serializers.IntegerField(read_only=True)
    payment_id = serializers.IntegerField(read_only=True, allow_null=True)
    amount = serializers.IntegerField(source="amount_minor", read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "booking_id",
            "payment_id",
            "amount",
            "currency",
            "percent",
            "source",
            "reason",
            "status",
            "policy_version",
            "gateway_refund_id",
            "attempts",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CustomerRefundSerializer(serializers.ModelSerializer):
    """A refund as its customer sees it (no gateway ids, attempts or errors)."""

    booking_id = serializers.IntegerField(read_only=True)
    amount = serializers.IntegerField(
        source="amount_minor", read_only=True, help_text="Minor units (paise, cents)."
    )

    class Meta:
        model = Refund
        fields = [
            "id",
            "booking_id",
            "amount",
            "currency",
            "percent",
            "source",
            "reason",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RefundListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Refund.Status.choices, required=False)
    source = serializers.ChoiceField(choices=Refund.Source.choices, required=False)
