"""Every representation of a booking carries its refund terms and what cancelling now
would refund, whichever app's endpoint returns it (``bookings.extensions``). Imported by
``RefundsConfig.ready``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.extensions import register_booking_field
from common.rendering import render
from refunds.cancellation import CANCELLABLE_STATUSES
from refunds.services.terms import refund_if_cancelled_now, refund_terms_of


class RefundTierSerializer(serializers.Serializer):
    min_hours_before = serializers.FloatField()
    percent = serializers.IntegerField()


class RefundTermsSerializer(serializers.Serializer):
    """The refund policy in force when the booking was made (cancelling uses these)."""

    policy_version = serializers.IntegerField()
    tiers = RefundTierSerializer(many=True)
    provider_cancel_percent = serializers.IntegerField()
    unassigned_percent = serializers.IntegerField(
        help_text="The customer cancels before any staff member is assigned."
    )


class RefundIfCancelledNowSerializer(serializers.Serializer):
    percent = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Minor units; 0 when nothing was paid.")


@extend_schema_field(RefundTermsSerializer())
class BookingRefundTermsField(serializers.Field):
    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, booking):
        return render(RefundTermsSerializer, refund_terms_of(booking=booking))


@extend_schema_field(RefundIfCancelledNowSerializer(allow_null=True))
class RefundIfCancelledNowField(serializers.Field):
    """The customer's refund if they cancelled now; null once it cannot be cancelled."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, booking):
        if booking.status not in CANCELLABLE_STATUSES:
            return None
        return refund_if_cancelled_now(booking=booking)


register_booking_field("refund_terms", BookingRefundTermsField, select_related="refund_terms")
register_booking_field("refund_if_cancelled_now", RefundIfCancelledNowField)
