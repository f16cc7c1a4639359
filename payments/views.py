"""Payment endpoints: Razorpay checkout verification and the incoming gateway webhooks.

Webhook views have no authentication (the signature is the authentication), no CSRF
and no throttling; they read the raw body before anything parses it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors as booking_selectors
from bookings.serializers import BookingDetailSerializer
from common.idempotency import idempotent
from common.limits import UserRateThrottle
from common.problems import NotFound, problem_response
from payments import services
from payments.gateways import InvalidSignature
from payments.serializers import PaymentVerifySerializer
from payments.webhooks import receive_webhook

logger = logging.getLogger(__name__)

PROBLEM = OpenApiResponse(description="Problem details (application/problem+json).")


class PaymentVerifyView(APIView):
    """Razorpay Checkout success handler: confirm the booking from the signed callback."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [UserRateThrottle]
    throttle_scope = "payment_verify"

    @extend_schema(
        summary="Verify a Razorpay checkout payment",
        request=PaymentVerifySerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Retry-safe key (scoped to the user): the same key and body "
                "replays the first response; another body -> 422.",
            )
        ],
        responses={200: BookingDetailSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
    )
    @idempotent
    def post(self, request, booking_id: int):
        bookings = booking_selectors.customer_bookings(customer=request.user)
        booking = bookings.filter(pk=booking_id).first()
        if booking is None:  # another customer's booking, or not a customer at all
            raise NotFound("No such booking.")
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
        detail = booking_selectors.booking_detail(queryset=bookings, booking_id=booking.pk)
        return Response(BookingDetailSerializer(detail).data)


class WebhookAckSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField()
    outcome = serializers.CharField()


class GatewayWebhookView(APIView):
    """``POST /webhooks/<gateway>``: verify the signature, claim, apply (see
    :mod:`payments.webhooks`)."""

    gateway = ""
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        # request.body, not request.data: the signature covers the exact raw bytes.
        try:
            receipt = receive_webhook(
                gateway=self.gateway, body=request.body, headers=request.headers
            )
        except InvalidSignature as exc:
            logger.warning("rejected %s webhook: %s", self.gateway, exc)
            return problem_response(
                status_code=400,
                code="invalid_signature",
                title="The signature does not match",
                detail="The webhook signature could not be verified.",
            )
        if receipt.duplicate:
            return Response({"received": True, "duplicate": True, "outcome": "duplicate"})
        return Response({"received": True, "duplicate": False, "outcome": receipt.event.outcome})


def _webhook_schema(gateway: str, header: str):
    return extend_schema(
        summary=f"{gateway.capitalize()} webhook",
        description=(
            f"Signed by {gateway} (`{header}` header) over the raw body. Duplicates (same "
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
