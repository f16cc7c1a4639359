"""The support status (``GET /api/v1/support/status``), as the schema declares it."""

from __future__ import annotations

from rest_framework import serializers


class CountsByKey(serializers.Serializer):
    total = serializers.IntegerField(min_value=0)


class OutboxCountsSerializer(CountsByKey):
    by_kind = serializers.DictField(child=serializers.IntegerField(min_value=0))


class OutboxSerializer(serializers.Serializer):
    pending = OutboxCountsSerializer(help_text="Messages waiting for delivery, per kind.")
    failed = OutboxCountsSerializer(help_text="Messages that gave up, per kind (retry in admin).")


class RefundCountsSerializer(serializers.Serializer):
    in_flight = serializers.IntegerField(min_value=0, help_text="Pending or processing.")
    needing_attention = serializers.IntegerField(
        min_value=0,
        help_text="Failed, in flight with an error, or accepted by the gateway and "
        "unsettled for over a day (the admin's 'needs attention' filter).",
    )


class PaymentCountsSerializer(serializers.Serializer):
    flagged = serializers.IntegerField(min_value=0)


class DisputeCountsSerializer(serializers.Serializer):
    open = serializers.IntegerField(min_value=0)


class WebhookCountsSerializer(CountsByKey):
    by_outcome = serializers.DictField(child=serializers.IntegerField(min_value=0))


class QueuesSerializer(serializers.Serializer):
    broker = serializers.ChoiceField(choices=["ok", "error", "in_process"])
    lengths = serializers.DictField(
        child=serializers.IntegerField(min_value=0),
        allow_null=True,
        help_text="Tasks waiting per Celery queue; null when the broker cannot be reached, "
        "empty in the embedded mode (tasks run in-process).",
    )


class SupportStatusSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    outbox = OutboxSerializer()
    refunds = RefundCountsSerializer()
    payments = PaymentCountsSerializer()
    disputes = DisputeCountsSerializer()
    webhooks_last_hour = WebhookCountsSerializer()
    queues = QueuesSerializer()
