"""Cancel, dispute and support refund endpoints (thin: validate, call a service, render)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors as booking_selectors
from common.idempotency import IDEMPOTENCY_KEY, idempotent
from common.limits import UserRateThrottle
from common.permissions import IsCustomer, IsPartner, IsSupport
from common.problems import PROBLEM
from refunds import selectors, services
from refunds.cancellation import cancel_booking
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


class _CancelView(APIView):
    throttle_classes = [UserRateThrottle]
    throttle_scope = "cancel"
    """Cancel a booking as ``by`` and answer with the booking (as that side sees it) and
    its refund; the subclasses differ only in who they are."""

    by = ""
    response_serializer: type[serializers.Serializer]

    def visible_bookings(self, request, booking):
        raise NotImplementedError

    def post(self, request, pk: int):
        serializer = CancelRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = cancel_booking(
            booking_id=pk,
            actor=request.user,
            by=self.by,
            reason=serializer.validated_data["reason"],
        )
        booking = booking_selectors.booking_detail(
            queryset=self.visible_bookings(request, result.booking), booking_id=result.booking.pk
        )
        refund = result.refund
        if refund is not None:
            refund.refresh_from_db()
        context = {"refund": refund, "outcome": result.outcome}
        return Response(self.response_serializer(booking, context=context).data)


class CustomerCancelView(_CancelView):
    permission_classes = [IsCustomer]
    by = "customer"
    response_serializer = CancelledBookingSerializer

    def visible_bookings(self, request, booking):
        return booking_selectors.customer_bookings(customer=request.user)

    @extend_schema(
        summary="Cancel my booking (refund by the active policy)",
        request=CancelRequestSerializer,
        responses={200: CancelledBookingSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, pk: int):
        return super().post(request, pk)


class ProviderCancelView(_CancelView):
    permission_classes = [IsPartner]
    by = "provider"
    response_serializer = ProviderCancelledBookingSerializer

    def visible_bookings(self, request, booking):
        # A reassigned booking now belongs to the partner that took it over; the answer
        # shows it as it is (partners and their slots are public) and says so in
        # ``outcome``. Afterwards it is no longer in this partner's list.
        return booking_selectors.partner_bookings(partner=booking.partner)

    @extend_schema(
        summary="Cancel a booking of my partner: reassigned to another partner if one is "
        "free at the same time, else cancelled with a full refund",
        description="A CONFIRMED booking is first offered to another active, verified "
        "partner of the city with the same service variant and a free slot starting at "
        "the same time (within `REASSIGN_WINDOW_MINUTES`), ranked like `partners/assign`: "
        "then it moves there, stays CONFIRMED with its payment, and `outcome` is "
        "`reassigned` (the booking leaves your list). Otherwise it is CANCELLED with the "
        "provider-cancel refund and `outcome` is `refunded`.",
        request=CancelRequestSerializer,
        responses={
            200: ProviderCancelledBookingSerializer,
            400: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
        },
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, pk: int):
        return super().post(request, pk)


class DisputeCreateView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Dispute my completed or cancelled booking",
        request=DisputeCreateSerializer,
        responses={201: DisputeSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
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
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
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
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
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
