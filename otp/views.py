"""HTTP endpoints of the code-verified service-day steps (thin: validate, call
``otp.service_day``, render the booking as its detail endpoint shows it)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.serializers import (
    BookingDetailSerializer,
    ProviderBookingDetailSerializer,
    customer_booking_data,
    provider_booking_data,
)
from common.idempotency import idempotent
from common.limits import UserRateThrottle
from common.permissions import IsCustomer, IsPartner
from common.problems import PROBLEM_RESPONSES
from otp import service_day


class OtpSerializer(serializers.Serializer):
    # [0-9], not \d: \d also matches other scripts' digits, which can never be a code.
    otp = serializers.RegexField(
        r"^[0-9]{6}$", max_length=6, error_messages={"invalid": "Enter the 6-digit code."}
    )


class CodeSentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    booking = BookingDetailSerializer()


class ConfirmArrivalView(APIView):
    permission_classes = [IsPartner]
    throttle_classes = [UserRateThrottle]
    throttle_scope = "otp"

    @extend_schema(
        tags=["provider"],
        summary="Confirm the arrival with the customer's code (CONFIRMED -> IN_PROGRESS)",
        request=OtpSerializer,
        responses={200: ProviderBookingDetailSerializer, **PROBLEM_RESPONSES},
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
        return Response(provider_booking_data(booking))


class MarkCompleteView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Mark the job done (IN_PROGRESS -> AWAITING_COMPLETION); again re-sends the code",
        request=None,
        responses={
            200: ProviderBookingDetailSerializer,
            429: PROBLEM_RESPONSES[429],
            **PROBLEM_RESPONSES,
        },
    )
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        booking = service_day.mark_complete(
            partner=request.user.partner, booking_id=booking_id, actor=request.user
        )
        return Response(provider_booking_data(booking))


class VerifyCompletionView(APIView):
    throttle_classes = [UserRateThrottle]
    throttle_scope = "otp"
    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["bookings"],
        summary="Verify the completion with the staff member's code (-> COMPLETED)",
        request=OtpSerializer,
        responses={200: BookingDetailSerializer, **PROBLEM_RESPONSES},
    )
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        data = OtpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = service_day.verify_completion(
            customer=request.user, booking_id=booking_id, code=data.validated_data["otp"]
        )
        return Response(customer_booking_data(booking))


class ResendOtpView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["bookings"],
        summary="Send a fresh arrival code (the previous one stops working)",
        request=None,
        responses={
            202: CodeSentSerializer,
            429: PROBLEM_RESPONSES[429],
            **PROBLEM_RESPONSES,
        },
    )
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        booking = service_day.resend_arrival_code(customer=request.user, booking_id=booking_id)
        body = {
            "detail": "A new arrival code is on its way.",
            "booking": customer_booking_data(booking),
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
