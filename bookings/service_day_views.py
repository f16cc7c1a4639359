"""HTTP endpoints of the service day (thin: validate, call bookings.service_day, render)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCustomer, IsPartner
from bookings import service_day
from bookings.models import Booking, BookingEvent


class TimelineEventSerializer(serializers.ModelSerializer):
    actor_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = BookingEvent
        fields = [
            "kind",
            "from_status",
            "to_status",
            "actor_id",
            "actor_label",
            "reason",
            "data",
            "at",
        ]


class ServiceDayBookingSerializer(serializers.ModelSerializer):
    """The booking fields of the API contract relevant to the service day, with timeline."""

    slot_id = serializers.IntegerField(read_only=True)
    partner_id = serializers.IntegerField(read_only=True)
    variant_id = serializers.IntegerField(read_only=True)
    assigned_staff_id = serializers.IntegerField(allow_null=True, read_only=True)
    amount = serializers.IntegerField(source="amount_minor", read_only=True)
    timeline = TimelineEventSerializer(source="events", many=True, read_only=True)

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
            "timeline",
        ]


class AssignStaffSerializer(serializers.Serializer):
    staff_id = serializers.IntegerField(min_value=1)


class OtpSerializer(serializers.Serializer):
    otp = serializers.RegexField(
        r"^\d{6}$", max_length=6, error_messages={"invalid": "Enter the 6-digit code."}
    )


class CodeSentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    booking = ServiceDayBookingSerializer()


def _render(booking: Booking, status_code: int = status.HTTP_200_OK) -> Response:
    booking = Booking.objects.prefetch_related("events").get(pk=booking.pk)
    return Response(ServiceDayBookingSerializer(booking).data, status=status_code)


_PROBLEMS = {
    400: OpenApiResponse(description="Invalid input or code (problem details)"),
    403: OpenApiResponse(description="Wrong role (problem details)"),
    404: OpenApiResponse(description="Not your booking / staff (problem details)"),
    409: OpenApiResponse(description="Booking not in a state that allows this"),
}


class AssignStaffView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Assign (or reassign until arrival) one of your staff to a confirmed booking",
        request=AssignStaffSerializer,
        responses={200: ServiceDayBookingSerializer, **_PROBLEMS},
    )
    def patch(self, request, booking_id: int) -> Response:
        data = AssignStaffSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = service_day.assign_staff(
            partner=request.user.partner,
            booking_id=booking_id,
            staff_id=data.validated_data["staff_id"],
            actor=request.user,
        )
        return _render(booking)


class ConfirmArrivalView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Confirm the arrival with the customer's code (CONFIRMED -> IN_PROGRESS)",
        request=OtpSerializer,
        responses={200: ServiceDayBookingSerializer, **_PROBLEMS},
    )
    def post(self, request, booking_id: int) -> Response:
        data = OtpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = service_day.confirm_arrival(
            partner=request.user.partner,
            booking_id=booking_id,
            code=data.validated_data["otp"],
            actor=request.user,
        )
        return _render(booking)


class MarkCompleteView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Mark the job done (IN_PROGRESS -> AWAITING_COMPLETION); again re-sends the code",
        request=None,
        responses={
            200: ServiceDayBookingSerializer,
            429: OpenApiResponse(description="Too many codes requested"),
            **_PROBLEMS,
        },
    )
    def post(self, request, booking_id: int) -> Response:
        booking = service_day.mark_complete(
            partner=request.user.partner, booking_id=booking_id, actor=request.user
        )
        return _render(booking)


class VerifyCompletionView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["bookings"],
        summary="Verify the completion with the staff member's code (-> COMPLETED)",
        request=OtpSerializer,
        responses={200: ServiceDayBookingSerializer, **_PROBLEMS},
    )
    def post(self, request, booking_id: int) -> Response:
        data = OtpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = service_day.verify_completion(
            customer=request.user, booking_id=booking_id, code=data.validated_data["otp"]
        )
        return _render(booking)


class ResendOtpView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["bookings"],
        summary="Send a fresh arrival code (the previous one stops working)",
        request=None,
        responses={
            202: CodeSentSerializer,
            429: OpenApiResponse(description="Too many codes requested"),
            **_PROBLEMS,
        },
    )
    def post(self, request, booking_id: int) -> Response:
        booking = service_day.resend_arrival_code(customer=request.user, booking_id=booking_id)
        booking = Booking.objects.prefetch_related("events").get(pk=booking.pk)
        body = {
            "detail": "A new arrival code is on its way.",
            "booking": ServiceDayBookingSerializer(booking).data,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
