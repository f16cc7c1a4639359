"""Provider API: the partner's outbound webhook (URL and signing secret).

The signing and delivery live in ``notifications.webhooks``; this is only the
partner-facing configuration. A partner sees and changes only its own settings.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.permissions import IsPartner
from notifications import webhooks


class WebhookConfigSerializer(serializers.Serializer):
    url = serializers.CharField(help_text='The URL events are POSTed to; "" when off.')
    secret_set = serializers.BooleanField(help_text="Whether a signing secret exists.")
    secret = serializers.CharField(
        required=False,
        help_text=(
            "The signing secret: present only in the response that generated it. "
            "Store it; it is never shown again (rotate to get a new one)."
        ),
    )
    events = serializers.ListField(child=serializers.CharField(), help_text="The event types sent.")


class WebhookConfigUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(
        max_length=200,
        allow_blank=True,
        help_text='https URL to receive booking events; "" turns webhooks off.',
    )
    rotate_secret = serializers.BooleanField(
        default=False,
        help_text="Generate a new secret (the old one stops working at once).",
    )

    def validate_url(self, value: str) -> str:
        problem = webhooks.resolved_url_problem(value) if value else None
        if problem:
            raise serializers.ValidationError(f"The webhook URL {problem}")
        return value


def _config(partner, secret: str | None = None) -> dict:
    data = {
        "url": partner.webhook_url,
        "secret_set": bool(partner.webhook_secret),
        "events": sorted(webhooks.EVENT_TYPES),
    }
    if secret:
        data["secret"] = secret
    return data


class ProviderWebhookView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["provider"],
        summary="The partner's webhook settings (the secret is never shown here)",
        responses=WebhookConfigSerializer,
    )
    def get(self, request: Request) -> Response:
        return Response(_config(request.user.partner))

    @extend_schema(
        tags=["provider"],
        summary="Set the webhook URL; generate or rotate the signing secret",
        description=(
            "A secret is generated the first time a URL is set, or when `rotate_secret` is "
            "true; only that response contains `secret`. Every delivery (including queued "
            "retries) is signed with the current secret. Deliveries carry "
            '`Slotwise-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` and '
            "`Slotwise-Event-Id`. An invalid or non-https URL is a 400 problem."
        ),
        request=WebhookConfigUpdateSerializer,
        responses={200: WebhookConfigSerializer},
        examples=[
            OpenApiExample(
                "Set URL",
                value={"url": "https://partner.example/slotwise-hook", "rotate_secret": False},
                request_only=True,
            )
        ],
    )
    def put(self, request: Request) -> Response:
        serializer = WebhookConfigUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner, secret = webhooks.configure_partner_webhook(
            partner_id=request.user.partner.pk, **serializer.validated_data
        )
        return Response(_config(partner, secret))
