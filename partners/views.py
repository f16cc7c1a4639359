from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from common.permissions import IsPartner
from partners import offerings, selectors, services
from partners.errors import OfferingNotFound, PartnerNotFound, SlotNotFound, StaffNotFound
from partners.serializers import (
    CitySerializer,
    OfferingCreateSerializer,
    OfferingUpdateSerializer,
    PartnerListQuerySerializer,
    PartnerSerializer,
    ProviderOfferingSerializer,
    ProviderSlotQuerySerializer,
    PublicSlotQuerySerializer,
    ServiceSerializer,
    SlotBulkCreateSerializer,
    SlotListSerializer,
    SlotSerializer,
    StaffSerializer,
    StaffUpdateSerializer,
)


def _validated_query(serializer_class, request: Request) -> dict:
    # An empty parameter (``?city=``) means "not given", as in a plain HTML form.
    params = {key: value for key, value in request.query_params.items() if value != ""}
    serializer = serializer_class(data=params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Public catalog -------------------------------------------------------------------------


@extend_schema(tags=["catalog"], summary="Services with their priced variants")
class ServiceListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ServiceSerializer

    def get_queryset(self):
        return selectors.active_services()


@extend_schema(tags=["catalog"], summary="Cities served")
class CityListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = CitySerializer

    def get_queryset(self):
        return selectors.cities()


class PartnerListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = PartnerSerializer
    filter_backends: list = []

    @extend_schema(
        tags=["catalog"],
        summary="Verified, active partners, optionally by city and service",
        description="An unknown city or service slug is a 400 validation problem.",
        parameters=[PartnerListQuerySerializer],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _validated_query(PartnerListQuerySerializer, self.request)
        partners = selectors.public_partners()
        if query.get("city"):
            partners = partners.filter(city=query["city"])
        if query.get("service"):
            partners = partners.filter(selectors.offering_service(query["service"]))
        return partners.order_by("-rating", "id")


@extend_schema(tags=["catalog"], summary="One verified, active partner")
class PartnerDetailView(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = PartnerSerializer

    def get_queryset(self):
        return selectors.public_partners()

    def get_object(self):
        partner = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if partner is None:
            raise PartnerNotFound()
        return partner


class PartnerSlotsView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = SlotSerializer
    filter_backends: list = []

    @extend_schema(
        tags=["catalog"],
        summary="A partner's bookable slots",
        description=(
            "Slots starting in `[from, to)`. By default only slots a customer can book now "
            "(future, not blocked, seats left); `all=true` lists every slot in the window."
        ),
        parameters=[PublicSlotQuerySerializer],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        partner = selectors.public_partners().filter(pk=self.kwargs["pk"]).first()
        if partner is None:
            raise PartnerNotFound()
        query = _validated_query(PublicSlotQuerySerializer, self.request)
        return selectors.partner_slots(
            partner_id=partner.pk,
            start_from=query.get("from") or (None if query["all"] else timezone.now()),
            start_to=query.get("to"),
            available_only=not query["all"],
        )


# --- Partner (provider) API -----------------------------------------------------------------


class ProviderSlotsView(generics.GenericAPIView):
    permission_classes = [IsPartner]
    serializer_class = SlotSerializer
    filter_backends: list = []

    @extend_schema(
        tags=["provider"],
        summary="The partner's own slots",
        parameters=[ProviderSlotQuerySerializer],
        responses=SlotSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = _validated_query(ProviderSlotQuerySerializer, request)
        slots = selectors.partner_slots(
            partner_id=request.user.partner.pk,
            start_from=query.get("from"),
            start_to=query.get("to"),
            available_only=query["available"],
        )
        page = self.paginate_queryset(slots)
        return self.get_paginated_response(SlotSerializer(page, many=True).data)

    @extend_schema(
        tags=["provider"],
        summary="Create slots in bulk",
        description=(
            "All or nothing: any invalid slot is a 400 and nothing is created; a slot that "
            "overlaps another in the request or an existing slot is a 409 `slot_overlap`."
        ),
        request=SlotBulkCreateSerializer,
        responses={201: SlotListSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = SlotBulkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        specs = [
            services.SlotSpec(
                start=item["start"],
                end=item["end"],
                capacity=item["capacity"],
                seat_types=tuple(
                    services.SeatTypeSpec(**seat) for seat in item.get("seat_types") or ()
                ),
            )
            for item in serializer.validated_data["slots"]
        ]
        slots = services.create_slots(partner_id=request.user.partner.pk, specs=specs)
        return Response(
            {"slots": SlotSerializer(slots, many=True).data}, status=status.HTTP_201_CREATED
        )


class ProviderSlotDetailView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"], summary="One of the partner's slots", responses=SlotSerializer
    )
    def get(self, request: Request, pk: int) -> Response:
        slots = selectors.partner_slots(partner_id=request.user.partner.pk, available_only=False)
        slot = slots.filter(pk=pk).first()
        if slot is None:
            raise SlotNotFound()
        return Response(SlotSerializer(slot).data)


class ProviderSlotBlockView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Block a slot (no new bookings)",
        request=None,
        responses=SlotSerializer,
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        slot = services.block_slot(partner_id=request.user.partner.pk, slot_id=pk)
        return Response(SlotSerializer(slot).data)


class ProviderSlotUnblockView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="Unblock a slot",
        request=None,
        responses=SlotSerializer,
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        slot = services.unblock_slot(partner_id=request.user.partner.pk, slot_id=pk)
        return Response(SlotSerializer(slot).data)


class ProviderStaffView(generics.GenericAPIView):
    permission_classes = [IsPartner]
    serializer_class = StaffSerializer
    filter_backends: list = []

    @extend_schema(
        tags=["provider"],
        summary="The partner's staff",
        responses=StaffSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        staff = selectors.partner_staff(partner_id=request.user.partner.pk)
        page = self.paginate_queryset(staff)
        return self.get_paginated_response(StaffSerializer(page, many=True).data)

    @extend_schema(
        tags=["provider"],
        summary="Add a staff member",
        request=StaffSerializer,
        responses={201: StaffSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = StaffSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        staff = services.create_staff(
            partner_id=request.user.partner.pk, **serializer.validated_data
        )
        return Response(StaffSerializer(staff).data, status=status.HTTP_201_CREATED)


class ProviderStaffDetailView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(tags=["provider"], summary="One staff member", responses=StaffSerializer)
    def get(self, request: Request, pk: int) -> Response:
        staff = selectors.partner_staff(partner_id=request.user.partner.pk).filter(pk=pk).first()
        if staff is None:
            raise StaffNotFound()
        return Response(StaffSerializer(staff).data)

    @extend_schema(
        tags=["provider"],
        summary="Change a staff member (name, phone, email, active)",
        request=StaffUpdateSerializer,
        responses=StaffSerializer,
    )
    def patch(self, request: Request, pk: int) -> Response:
        serializer = StaffUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        staff = services.update_staff(
            partner_id=request.user.partner.pk, staff_id=pk, **serializer.validated_data
        )
        return Response(StaffSerializer(staff).data)

    @extend_schema(
        tags=["provider"],
        summary="Deactivate a staff member (kept for booking history)",
        responses={204: None},
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.update_staff(partner_id=request.user.partner.pk, staff_id=pk, active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderOfferingsView(generics.GenericAPIView):
    permission_classes = [IsPartner]
    serializer_class = ProviderOfferingSerializer
    filter_backends: list = []

    @extend_schema(
        tags=["provider"],
        summary="The partner's offerings (variants it sells, at its prices)",
        responses=ProviderOfferingSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        mine = selectors.partner_offerings(partner_id=request.user.partner.pk)
        page = self.paginate_queryset(mine)
        return self.get_paginated_response(ProviderOfferingSerializer(page, many=True).data)

    @extend_schema(
        tags=["provider"],
        summary="Offer a catalog variant at your price",
        description=(
            "The currency is the city's (else the platform default). A price outside "
            "1..`OFFERING_MAX_PRICE_MINOR` is 400 `invalid_price`; a variant already "
            "offered is 409 `offering_exists` (PATCH it instead)."
        ),
        request=OfferingCreateSerializer,
        responses={201: ProviderOfferingSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = OfferingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        offering = offerings.create_offering(
            partner_id=request.user.partner.pk,
            variant_id=data["variant_id"].pk,
            price_minor=data["price_minor"],
            active=data["active"],
        )
        offering = selectors.partner_offerings(partner_id=offering.partner_id).get(pk=offering.pk)
        return Response(ProviderOfferingSerializer(offering).data, status=status.HTTP_201_CREATED)


class ProviderOfferingDetailView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="One of the partner's offerings",
        responses=ProviderOfferingSerializer,
    )
    def get(self, request: Request, pk: int) -> Response:
        mine = selectors.partner_offerings(partner_id=request.user.partner.pk)
        offering = mine.filter(pk=pk).first()
        if offering is None:
            raise OfferingNotFound()
        return Response(ProviderOfferingSerializer(offering).data)

    @extend_schema(
        tags=["provider"],
        summary="Change an offering's price or active flag",
        description="Existing bookings keep the amount they were made at.",
        request=OfferingUpdateSerializer,
        responses=ProviderOfferingSerializer,
    )
    def patch(self, request: Request, pk: int) -> Response:
        serializer = OfferingUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        offering = offerings.update_offering(
            partner_id=request.user.partner.pk, offering_id=pk, **serializer.validated_data
        )
        return Response(ProviderOfferingSerializer(offering).data)

    @extend_schema(
        tags=["provider"],
        summary="Stop offering a variant (kept, inactive, for its bookings)",
        description=(
            "Existing bookings stay; new bookings of the variant are 400 `variant_not_offered`."
        ),
        responses={204: None},
    )
    def delete(self, request: Request, pk: int) -> Response:
        offerings.update_offering(partner_id=request.user.partner.pk, offering_id=pk, active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)
