from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import rescheduling, selectors, staffing
from bookings.errors import BookingNotFound, NoPartnerAvailable
from bookings.models import Booking
from bookings.serializers import (
    AssignmentSerializer,
    AssignRequestSerializer,
    BookingDetailSerializer,
    BookingListQuerySerializer,
    BookingSerializer,
    ProviderBookingDetailSerializer,
    ProviderBookingSerializer,
    RescheduleRequestSerializer,
    customer_booking_data,
    provider_booking_data,
)
from common.idempotency import IDEMPOTENCY_KEY, idempotent
from common.limits import UserRateThrottle
from common.permissions import IsCustomer, IsPartner
from common.problems import PROBLEM, PROBLEM_RESPONSES


class AssignPartnerView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="partners_assign",
        summary="Best available partner and slot",
        description="Among active, verified partners of the city with an active offering "
        "of the `variant` (without one: of the service), the open slot (not blocked, a free "
        "seat, in the `from`/`to` window) that the job fits in: `end - start` at least the "
        "`variant`'s `duration_minutes`, or without a `variant` at least the service's "
        "shortest active variant. The answer carries the partner's price (`variant_id`, "
        "`price_minor`, `currency`; without a `variant` its cheapest offering of the service "
        "that fits the slot). Ranking: earliest "
        "fitting slot, then partner rating (highest first), then fewest bookings of the "
        "partner that day (city time zone), then partner id, then slot id. "
        "No such slot: 404 `no_partner_available`.",
        request=AssignRequestSerializer,
        responses={200: AssignmentSerializer, 400: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    )
    @idempotent
    def post(self, request):
        serializer = AssignRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        slot = selectors.best_assignment(
            city=data["city"],
            service=data["service"],
            variant=data.get("variant"),
            start_from=data.get("from"),
            start_to=data.get("to"),
        )
        if slot is None:
            raise NoPartnerAvailable(
                "No active, verified partner in this city has a free slot for this service."
            )
        body = {
            "partner": slot.partner,
            "slot": slot,
            "day_bookings": slot.day_bookings,
            "variant_id": slot.offer_variant_id,
            "price_minor": slot.offer_price_minor,
            "currency": slot.offer_currency,
        }
        return Response(AssignmentSerializer(body).data)


def _list_filters(request) -> dict:
    query = BookingListQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    return {
        "statuses": data.get("status"),
        "day": data.get("date"),
        "start_from": data.get("from"),
        "start_to": data.get("to"),
    }


class BookingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The customer's own bookings; another customer's booking is a 404. Creating one is
    checkout (``payments.views.CheckoutViewSet`` adds ``create``)."""

    permission_classes = [IsCustomer]
    serializer_class = BookingSerializer
    throttle_scope = "booking"

    def get_throttles(self):
        # Only booking is rate limited per user; reading one's bookings is not.
        return [UserRateThrottle()] if self.action == "create" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Booking.objects.none()
        return selectors.customer_bookings(customer=self.request.user)

    def get_object(self):
        return _detail_or_404(self.get_queryset(), self.kwargs["pk"])

    def get_serializer_class(self):
        return BookingDetailSerializer if self.action == "retrieve" else BookingSerializer

    @extend_schema(
        parameters=[BookingListQuerySerializer],
        responses={200: BookingSerializer(many=True), 400: PROBLEM},
    )
    def list(self, request, *args, **kwargs):
        queryset = selectors.filter_bookings(self.get_queryset(), **_list_filters(request))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(BookingSerializer(page, many=True).data)

    @extend_schema(responses={200: BookingDetailSerializer, 404: PROBLEM})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


class ProviderBookingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The partner's own bookings; another partner's booking is a 404."""

    permission_classes = [IsPartner]
    serializer_class = ProviderBookingSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Booking.objects.none()
        return selectors.partner_bookings(partner=self.request.user.partner)

    def get_object(self):
        return _detail_or_404(self.get_queryset(), self.kwargs["pk"])

    def get_serializer_class(self):
        if self.action == "retrieve":
            return ProviderBookingDetailSerializer
        return ProviderBookingSerializer

    @extend_schema(
        parameters=[BookingListQuerySerializer],
        responses={200: ProviderBookingSerializer(many=True), 400: PROBLEM},
    )
    def list(self, request, *args, **kwargs):
        queryset = selectors.filter_bookings(self.get_queryset(), **_list_filters(request))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ProviderBookingSerializer(page, many=True).data)

    @extend_schema(responses={200: ProviderBookingDetailSerializer, 404: PROBLEM})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


def _detail_or_404(queryset, pk):
    try:
        booking_id = int(pk)
    except (TypeError, ValueError):
        raise BookingNotFound() from None
    booking = selectors.booking_detail(queryset=queryset, booking_id=booking_id)
    if booking is None:
        raise BookingNotFound()
    return booking


class RescheduleView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="bookings_reschedule",
        summary="Move my booking to another slot of the same partner (nothing to pay)",
        description="A PENDING_PAYMENT or CONFIRMED booking moves to another slot of its "
        "partner, same variant and quantity, in one transaction (the new seats taken, the "
        "old released and offered to that slot's waitlist). The answer is the booking with "
        "the same `id`, `amount` and `payment`, the new `slot_id` and a `rescheduled` "
        "timeline entry. The assigned staff member is cleared, a new arrival code is sent "
        "(confirmed bookings), the partner gets `booking.rescheduled`. Allowed until "
        "`RESCHEDULE_CUTOFF_HOURS` before the current start, `RESCHEDULE_MAX_TIMES` times. "
        "Errors: 404 `booking_not_found`, `slot_not_found`; 400 `slot_in_past`, "
        "`other_partner`, `variant_not_offered`, `variant_does_not_fit`; 409 "
        "`slot_unavailable`, `slot_blocked`, `partner_unavailable`, "
        "`reschedule_window_closed`, `reschedule_limit_reached`, `invalid_transition`.",
        request=RescheduleRequestSerializer,
        responses={200: BookingDetailSerializer, **PROBLEM_RESPONSES},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, booking_id: int) -> Response:
        data = RescheduleRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = rescheduling.reschedule_booking(
            customer=request.user,
            booking_id=booking_id,
            slot_id=data.validated_data["slot_id"],
            seat_type=data.validated_data.get("seat_type"),
        )
        return Response(customer_booking_data(booking))


class AssignStaffSerializer(serializers.Serializer):
    staff_id = serializers.IntegerField(min_value=1)


class AssignStaffView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Assign (or reassign until arrival) one of your staff to a confirmed booking",
        description="A staff member cannot be on two active bookings whose times overlap: "
        "409 `staff_busy` (enforced by the database, also for concurrent requests).",
        request=AssignStaffSerializer,
        responses={200: ProviderBookingDetailSerializer, **PROBLEM_RESPONSES},
    )
    def patch(self, request, booking_id: int) -> Response:
        data = AssignStaffSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = staffing.assign_staff(
            partner=request.user.partner,
            booking_id=booking_id,
            staff_id=data.validated_data["staff_id"],
            actor=request.user,
        )
        return Response(provider_booking_data(booking))
