"""Payment endpoints: checkout (``POST /bookings``), Razorpay checkout verification and
the incoming gateway webhooks.

Webhook views have no authentication (the signature is the authentication), no CSRF
and no throttling; they read the raw body before anything parses it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors as booking_selectors
from bookings.errors import BookingNotFound
from bookings.serializers import (
    BookingDetailSerializer,
    customer_booking_data,
    new_booking_data,
)
from bookings.views import BookingViewSet
from common.idempotency import IDEMPOTENCY_KEY, handler_key, idempotent
from common.limits import UserRateThrottle
from common.problems import PROBLEM, NotFound
from payments import services
from payments.checkout import place_booking
from payments.errors import InvalidSignatureProblem
from payments.gateways import InvalidSignature
from payments.intake import ingest_webhook
from payments.models import Outcome
from payments.serializers import BookingCreateSerializer, PaymentVerifySerializer

logger = logging.getLogger(__name__)


class CheckoutViewSet(BookingViewSet):
    """``/bookings``: the customer's bookings (list, detail: ``bookings.views``) and
    checkout (``create``): book a slot and start its payment."""

    @extend_schema(
        summary="Book a slot (hold seats, start the payment)",
        description="Takes `quantity` seats of the slot and holds them for "
        "`BOOKING_HOLD_MINUTES` in PENDING_PAYMENT; amount = the partner's price of the "
        "variant (or the seat type's own price) x quantity, fixed at booking. "
        "Seats are of one `seat_type` of the slot (400 `seat_type_not_found`, "
        "`seat_type_required`). "
        "Errors: 404 `slot_not_found`; 400 `slot_in_past`, `variant_not_offered` (the "
        "slot's partner does not offer the variant), `variant_does_not_fit` (the variant's "
        "`duration_minutes` is longer than the slot, `end - start`); 409 "
        "`partner_unavailable`, `slot_blocked`, `slot_unavailable` (not enough free seats). "
        "Nothing is booked when it fails.",
        parameters=[IDEMPOTENCY_KEY],
        request=BookingCreateSerializer,
        responses={
            201: BookingDetailSerializer,
            400: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
            422: PROBLEM,
            503: PROBLEM,
        },
    )
    @idempotent(written_by_handler=True)
    def create(self, request, *args, **kwargs):
        serializer = BookingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = handler_key(request)
        placed: dict = {}

        def record_pending(booking) -> None:
            # The booking commits before its payment (a gateway call follows): the key
            # commits with it, in progress.
            if key is not None:
                key.claim()

        def record_placed(booking) -> None:
            # Inside the transaction that stores the payment: the response is rendered
            # from the objects in hand and stored with the key in the same commit.
            placed["body"] = new_booking_data(booking)
            if key is not None:
                key.complete(status=status.HTTP_201_CREATED, body=placed["body"])

        place_booking(
            customer=request.user,
            slot_id=data["slot_id"],
            variant_id=data["variant_id"],
            quantity=data["quantity"],
            seat_type=data.get("seat_type"),
            gateway=data.get("gateway"),
            record_pending=record_pending,
            record_placed=record_placed,
        )
        return Response(placed["body"], status=status.HTTP_201_CREATED)


class PaymentVerifyView(APIView):
    """Razorpay Checkout success handler: confirm the booking from the signed callback."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [UserRateThrottle]
    throttle_scope = "payment_verify"

    @extend_schema(
        summary="Verify a Razorpay checkout payment",
        request=PaymentVerifySerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: BookingDetailSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
    )
    @idempotent
    def post(self, request, booking_id: int):
        bookings = booking_selectors.customer_bookings(customer=request.user)
        booking = bookings.filter(pk=booking_id).first()
        if booking is None:  # another customer's booking, or not a customer at all
            raise BookingNotFound()
        serializer = PaymentVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.confirm_checkout(
            booking=booking,
            order_id=data["razorpay_order_id"],
            payment_id=data["razorpay_payment_id"],
            signature=data["razorpay_signature"],
            actor=request.user,
        )
        return Response(customer_booking_data(booking))


class WebhookAckSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField()
    outcome = serializers.CharField()


class GatewayWebhookView(APIView):
    """``POST /webhooks/<gateway>``: verify the signature, record, answer; the effects
    are applied by a Celery task (see :mod:`payments.intake`)."""

    gateway = ""
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        # request.body, not request.data: the signature covers the exact raw bytes.
        try:
            receipt = ingest_webhook(
                gateway=self.gateway, body=request.body, headers=request.headers
            )
        except InvalidSignature as exc:
            logger.warning("rejected %s webhook: %s", self.gateway, exc)
            raise InvalidSignatureProblem("The webhook signature could not be verified.") from None
        if receipt.duplicate:
            return Response({"received": True, "duplicate": True, "outcome": Outcome.DUPLICATE})
        return Response({"received": True, "duplicate": False, "outcome": receipt.event.outcome})


def _webhook_schema(gateway: str, header: str):
    return extend_schema(
        summary=f"{gateway.capitalize()} webhook",
        description=(
            f"Signed by {gateway} (`{header}` header) over the raw body. A new event is "
            "recorded and answered at once with `outcome` `pending`; its effects are applied "
            "right after by a worker (the ledger row's outcome follows). Duplicates (same "
            'event id) answer `{"duplicate": true}` and change nothing; unknown event types '
            "are recorded and ignored."
        ),
        auth=[],
        request={"application/json": dict},
        parameters=[OpenApiParameter(header, str, OpenApiParameter.HEADER, required=True)],
        responses={200: WebhookAckSerializer, 400: PROBLEM, 404: PROBLEM},
    )


class RazorpayWebhookView(GatewayWebhookView):
    gateway = "razorpay"

    @_webhook_schema("razorpay", "X-Razorpay-Signature")
    def post(self, request):
        return super().post(request)


class StripeWebhookView(GatewayWebhookView):
    gateway = "stripe"

    @_webhook_schema("stripe", "Stripe-Signature")
    def post(self, request):
        return super().post(request)


class SandboxWebhookView(GatewayWebhookView):
    gateway = "sandbox"

    @_webhook_schema("sandbox", "X-Sandbox-Signature")
    def post(self, request):
        if not settings.PAYMENT_SANDBOX_ENABLED:
            raise NotFound("The sandbox gateway is disabled.")
        return super().post(request)
