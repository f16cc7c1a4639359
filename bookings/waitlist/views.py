"""Waitlist API: join a full slot's line, list and leave one's own entries."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.errors import WaitlistEntryNotFound
from bookings.models import WaitlistEntry
from bookings.waitlist import services as waitlist
from bookings.waitlist.selectors import customer_waitlist
from common.idempotency import IDEMPOTENCY_KEY, idempotent
from common.limits import UserRateThrottle
from common.permissions import IsCustomer
from common.problems import PROBLEM


class WaitlistJoinSerializer(serializers.Serializer):
    variant_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=100, default=1)
    seat_type = serializers.SlugField(
        max_length=32,
        required=False,
        help_text="The seat type to wait for (`seat_types[].code`); default `standard`, or the "
        "slot's only type (else 400 `seat_type_required`; unknown: `seat_type_not_found`).",
    )


class WaitlistEntrySerializer(serializers.ModelSerializer):
    slot_id = serializers.IntegerField(read_only=True)
    variant_id = serializers.IntegerField(read_only=True)
    slot_start = serializers.DateTimeField(source="slot.start", read_only=True)
    position = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Place in the slot's line (1 = next); null unless waiting.",
    )
    offered_booking_id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The PENDING_PAYMENT booking holding the offered seats (pay it to keep them).",
    )

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "slot_id",
            "slot_start",
            "variant_id",
            "seat_type",
            "quantity",
            "status",
            "position",
            "offered_booking_id",
            "offer_expires_at",
            "created_at",
        ]
        read_only_fields = fields


def _entry(*, customer, entry_id: int) -> WaitlistEntry:
    entry = customer_waitlist(customer=customer).filter(pk=entry_id).first()
    if entry is None:
        raise WaitlistEntryNotFound()
    return entry


class SlotWaitlistView(APIView):
    permission_classes = [IsCustomer]
    throttle_classes = [UserRateThrottle]
    throttle_scope = "waitlist"

    @extend_schema(
        operation_id="slots_waitlist_join",
        summary="Join the waitlist of a full slot",
        description=(
            "Only when the slot's `seat_type` has fewer free seats than `quantity` (else "
            "409 `slot_has_room`: book it). The line is per seat type: when seats of a "
            "type come free the first entries waiting for it whose quantity fits get a "
            "PENDING_PAYMENT booking held for "
            "BOOKING_HOLD_MINUTES, a payment and a message with the checkout link; an "
            "unpaid offer expires and passes to the next in line."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=WaitlistJoinSerializer,
        responses={
            201: WaitlistEntrySerializer,
            400: PROBLEM,
            403: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
            422: PROBLEM,
        },
    )
    @idempotent
    def post(self, request, slot_id: int):
        serializer = WaitlistJoinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = waitlist.join_waitlist(
            customer=request.user,
            slot_id=slot_id,
            variant_id=serializer.validated_data["variant_id"],
            quantity=serializer.validated_data["quantity"],
            seat_type=serializer.validated_data.get("seat_type"),
        )
        entry = _entry(customer=request.user, entry_id=entry.pk)
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class WaitlistListView(ListAPIView):
    """The customer's own waitlist entries, newest first."""

    permission_classes = [IsCustomer]
    serializer_class = WaitlistEntrySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return WaitlistEntry.objects.none()
        return customer_waitlist(customer=self.request.user)

    @extend_schema(
        operation_id="waitlist_list",
        responses={200: WaitlistEntrySerializer(many=True), 400: PROBLEM, 403: PROBLEM},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class WaitlistEntryView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="waitlist_retrieve",
        responses={200: WaitlistEntrySerializer, 404: PROBLEM},
    )
    def get(self, request, pk: int):
        return Response(WaitlistEntrySerializer(_entry(customer=request.user, entry_id=pk)).data)

    @extend_schema(
        operation_id="waitlist_leave",
        summary="Leave the line",
        description=(
            "A waiting entry becomes cancelled (repeating it is a no-op). An offered entry "
            "cannot be left: pay or cancel its booking (409 `waitlist_entry_not_waiting`)."
        ),
        request=None,
        responses={204: None, 404: PROBLEM, 409: PROBLEM},
    )
    def delete(self, request, pk: int):
        waitlist.leave_waitlist(customer=request.user, entry_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
