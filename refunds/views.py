"""Cancel, dispute and support refund endpoints (thin: validate, call a service, render)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCustomer, IsPartner, IsSupport
from bookings import selectors as booking_selectors
from bookings.cancellation import cancel_booking
from refunds import selectors, services
from refunds.serializers import (
    CancelledBookingSerializer,
    CancelRequestSerializer,
    DisputeCreateSerializer,
    DisputeSerializer,
    ManualRefundSerializer,
    ProviderCancelledBookingSerializer,
    RefundListQuerySerializer,
    RefundSerializer,
)

PROBLEM = OpenApiResponse(description="Problem details (application/problem+json).")


class CustomerCancelView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Cancel my booking (refund by the active policy)",
        request=CancelRequestSerializer,
        responses={200: CancelledBookingSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
    )
    def post(self, request, pk: int):
        serializer = CancelRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking, refund = cancel_booking(
            booking_id=pk,
            actor=request.user,
            by="customer",
            reason=serializer.validated_data["reason"],
        )
        booking = booking_selectors.booking_detail(
            queryset=booking_selectors.customer_bookings(customer=request.user),
            booking_id=booking.pk,
        )
        if refund is not None:
            refund.refresh_from_db()
        return Response(CancelledBookingSerializer(booking, context={"refund": refund}).data)


class ProviderCancelView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        summary="Cancel a booking of my partner (full refund by default policy)",
        request=CancelRequestSerializer,
        responses={
            200: ProviderCancelledBookingSerializer,
            400: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
        },
    )
    def post(self, request, pk: int):
        serializer = CancelRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking, refund = cancel_booking(
            booking_id=pk,
            actor=request.user,
            by="provider",
            reason=serializer.validated_data["reason"],
        )
        booking = booking_selectors.booking_detail(
            queryset=booking_selectors.partner_bookings(partner=request.user.partner),
            booking_id=booking.pk,
        )
        if refund is not None:
            refund.refresh_from_db()
        return Response(
            ProviderCancelledBookingSerializer(booking, context={"refund": refund}).data
        )


class DisputeCreateView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Dispute my completed or cancelled booking",
        request=DisputeCreateSerializer,
        responses={201: DisputeSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
    )
    def post(self, request, pk: int):
        serializer = DisputeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispute = services.open_dispute(
            booking_id=pk, customer=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


class SupportManualRefundView(APIView):
    permission_classes = [IsSupport]

    @extend_schema(
        summary="Refund a booking manually (support staff; partial amounts allowed)",
        request=ManualRefundSerializer,
        responses={201: RefundSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
    )
    def post(self, request, pk: int):
        serializer = ManualRefundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund = services.refund_booking_manually(
            booking_id=pk,
            amount_minor=serializer.validated_data["amount"],
            reason=serializer.validated_data["reason"],
            actor=request.user,
        )
        refund.refresh_from_db()
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


class SupportRetryRefundView(APIView):
    permission_classes = [IsSupport]

    @extend_schema(
        summary="Retry a failed refund (support staff)",
        request=None,
        responses={200: RefundSerializer, 404: PROBLEM, 409: PROBLEM},
    )
    def post(self, request, pk: int):
        refund = services.retry_refund(refund_id=pk, actor=request.user)
        refund.refresh_from_db()
        return Response(RefundSerializer(refund).data)


class SupportRefundListView(generics.ListAPIView):
    """All refunds, newest first; ``?status=failed`` lists those needing attention."""

    permission_classes = [IsSupport]
    serializer_class = RefundSerializer

    def get_queryset(self):
        query = RefundListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.support_refunds(**query.validated_data)

    @extend_schema(
        summary="List refunds (support staff)",
        parameters=[RefundListQuerySerializer],
        responses={200: RefundSerializer(many=True), 400: PROBLEM},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
