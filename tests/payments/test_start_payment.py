"""start_payment: one gateway order per booking, created outside any lock."""

from __future__ import annotations

import json

import pytest
import responses

from payments.errors import GatewayDisabled, PaymentGatewayUnavailable
from payments.gateways import UnknownGateway
from payments.models import Payment
from payments.orders import start_payment
from payments.serializers import PaymentHandleSerializer
from tests.factories.bookings import BookingFactory

pytestmark = pytest.mark.django_db


@responses.activate
def test_razorpay_payment_handle_has_the_order_and_public_key():
    booking = BookingFactory()
    call = responses.post(
        "https://razorpay.fake/v1/orders", json={"id": "order_H1", "amount": booking.amount_minor}
    )

    payment = start_payment(booking=booking, gateway="razorpay")

    assert json.loads(call.calls[0].request.body)["notes"] == {"booking_id": str(booking.pk)}
    assert PaymentHandleSerializer(payment).data == {
        "gateway": "razorpay",
        "order_id": "order_H1",
        "amount": booking.amount_minor,
        "currency": booking.currency,
        "status": "created",
        "checkout_url": None,
        "key_id": "rzp_test_key",
    }


@responses.activate
def test_a_second_start_returns_the_same_payment_without_calling_the_gateway():
    booking = BookingFactory()
    call = responses.post("https://razorpay.fake/v1/orders", json={"id": "order_H2"})

    first = start_payment(booking=booking, gateway="razorpay")
    again = start_payment(booking=booking, gateway="razorpay")
    other_gateway = start_payment(booking=booking, gateway="stripe")

    assert first.pk == again.pk == other_gateway.pk
    assert call.call_count == 1
    assert Payment.objects.filter(booking=booking).count() == 1


def test_default_gateway_is_used_when_none_is_given(settings):
    settings.PAYMENT_DEFAULT_GATEWAY = "sandbox"
    booking = BookingFactory()

    payment = start_payment(booking=booking)

    assert payment.gateway == "sandbox"
    assert payment.order_id.startswith("sbx_order_")
    assert payment.checkout_url == f"http://testserver/sandbox/checkout/{payment.order_id}"
    assert (payment.amount_minor, payment.currency) == (booking.amount_minor, booking.currency)


@responses.activate
def test_gateway_outage_raises_and_stores_nothing():
    booking = BookingFactory()
    responses.post(
        "https://razorpay.fake/v1/orders",
        status=503,
        json={"error": {"code": "SERVER_ERROR", "description": "down"}},
    )

    with pytest.raises(PaymentGatewayUnavailable):
        start_payment(booking=booking, gateway="razorpay")

    assert Payment.objects.count() == 0


def test_disabled_sandbox_and_unknown_gateways_are_refused(settings):
    settings.PAYMENT_SANDBOX_ENABLED = False
    booking = BookingFactory()

    with pytest.raises(GatewayDisabled):
        start_payment(booking=booking, gateway="sandbox")
    with pytest.raises(UnknownGateway):
        start_payment(booking=booking, gateway="paypal")
    assert Payment.objects.count() == 0
