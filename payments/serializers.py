from django.conf import settings
from rest_framework import serializers

from payments.models import Gateway, Payment


class PaymentHandleSerializer(serializers.ModelSerializer):
    """What a client needs to pay a booking: open ``checkout_url`` (sandbox, Stripe) or
    run Razorpay Checkout with ``key_id`` + ``order_id``."""

    amount = serializers.IntegerField(source="amount_minor", read_only=True)
    checkout_url = serializers.SerializerMethodField()
    key_id = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = ["gateway", "order_id", "amount", "currency", "status", "checkout_url", "key_id"]
        read_only_fields = fields

    def get_checkout_url(self, payment: Payment) -> str | None:
        return payment.checkout_url or None

    def get_key_id(self, payment: Payment) -> str | None:
        # Razorpay Checkout needs the public key id next to the order id.
        if payment.gateway == Gateway.RAZORPAY:
            return settings.RAZORPAY_KEY_ID or None
        return None


class PaymentVerifySerializer(serializers.Serializer):
    """The fields Razorpay Checkout hands to its success handler."""

    razorpay_order_id = serializers.CharField(max_length=255)
    razorpay_payment_id = serializers.CharField(max_length=255)
    razorpay_signature = serializers.CharField(max_length=255)
