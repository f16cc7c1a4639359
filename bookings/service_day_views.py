"""HTTP endpoints of the service day (thin: validate, call bookings.service_day, render)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCustomer, IsPartner
from bookings import selectors, service_day
from bookings.models import Booking
from bookings.serializers import BookingDetailSerializer, ProviderBookingDetailSerializer
from common.idempotency import idempotent
from common.limits import UserRateThrottle


class AssignStaffSerializer(serializers.Serializer):
    staff_id = serializers.IntegerField(min_value=1)


class OtpSerializer(serializers.Serializer):
    # [0-9], not \d: \d also matches other scripts' digits, which can never be a code.
    otp = serializers.RegexField(
        r"^[0-9]{6}$", max_length=6, error_messages={"invalid": "Enter the 6-digit code."}
    )


class CodeSentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    booking = BookingDetailSerializer()


def _provider_view(booking: Booking) -> dict:
    """The booking as GET provider/bookings/{id} shows it (with the timeline)."""
    queryset = selectors.partner_bookings(partner=booking.partner)
    detail = selectors.booking_detail(queryset=queryset, booking_id=booking.pk)
    return ProviderBookingDetailSerializer(detail).data


def _customer_view(booking: Booking) -> dict:
    """The booking as GET bookings/{id} shows it (with the timeline)."""
    queryset = selectors.customer_bookings(customer=booking.customer)
    detail = selectors.booking_detail(queryset=queryset, booking_id=booking.pk)
    return BookingDetailSerializer(detail).data


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
        responses={200: ProviderBookingDetailSerializer, **_PROBLEMS},
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
        return Response(_provider_view(booking))


class ConfirmArrivalView(APIView):
    permission_classes = [IsPartner]
    throttle_classes = [UserRateThrottle]
    throttle_scope = "otp"

    @extend_schema(
        tags=["provider"],
        summary="Confirm the arrival with the customer's code (CONFIRMED -> IN_PROGRESS)",
        request=OtpSerializer,
        responses={200: ProviderBookingDetailSerializer, **_PROBLEMS},
    )
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        data = OtpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = service_day.confirm_arrival(
            partner=request.user.partner,
            booking_id=booking_id,
            code=data.validated_data["otp"],
            actor=request.user,
        )
        return Response(_provider_view(booking))


class MarkCompleteView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Mark the job done (IN_PROGRESS -> AWAITING_COMPLETION); again re-sends the code",
        request=None,
        responses={
            200: ProviderBookingDetailSerializer,
            429: OpenApiResponse(description="Too many codes requested"),
            **_PROBLEMS,
        },
    )
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        booking = service_day.mark_complete(
            partner=request.user.partner, booking_id=booking_id, actor=request.user
        )
        return Response(_provider_view(booking))


class VerifyCompletionView(APIView):
    throttle_classes = [UserRateThrottle]
    throttle_scope = "otp"
    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["bookings"],
        summary="Verify the completion with the staff member's code (-> COMPLETED)",
        request=OtpSerializer,
        responses={200: BookingDetailSerializer, **_PROBLEMS},
    )
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        data = OtpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = service_day.verify_completion(
            customer=request.user, booking_id=booking_id, code=data.validated_data["otp"]
        )
        return Response(_customer_view(booking))


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
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        booking = service_day.resend_arrival_code(customer=request.user, booking_id=booking_id)
        body = {"detail": "A new arrival code is on its way.", "booking": _customer_view(booking)}
        return Response(body, status=status.HTTP_202_ACCEPTED)
