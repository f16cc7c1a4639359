from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.rendering import KeptInputFields, render
from payments.models import Gateway, Payment
from payments.orders import checkout_link


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
        return checkout_link(payment)

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


@extend_schema_field(PaymentHandleSerializer(allow_null=True))
class BookingPaymentField(serializers.Field):
    """The ``payment`` of a booking's representation (registered with
    ``bookings.extensions`` in ``PaymentsConfig.ready``); null before checkout."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, booking):
        payment = getattr(booking, "payment", None)  # reverse one-to-one: None when absent
        return render(PaymentHandleSerializer, payment) if payment is not None else None


# Ids are bigints: a larger number can name nothing, and the seat-taking SQL would fail on it.
MAX_ID = 2**63 - 1


class BookingCreateSerializer(KeptInputFields, serializers.Serializer):
    """Every booking request's input: plain fields, built once (``KeptInputFields``)."""

    slot_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    variant_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="A variant the slot's partner offers (else 400 `variant_not_offered`) "
        "whose `duration_minutes` fits in the slot, `end - start` (else 400 "
        "`variant_does_not_fit`).",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=100, default=1)
    seat_type = serializers.SlugField(
        max_length=32,
        required=False,
        help_text="The slot's seat type (`seat_types[].code`); default `standard`, or the "
        "slot's only type (else 400 `seat_type_required`; unknown: `seat_type_not_found`).",
    )
    gateway = serializers.ChoiceField(
        choices=Gateway.choices,
        required=False,
        allow_null=True,
        help_text="Payment gateway; default PAYMENT_DEFAULT_GATEWAY.",
    )
