"""Outbound gateway calls, faked only at the HTTP layer with ``responses``: the requests
the SDKs really send, and how failures map to retryable / final ``GatewayError``s."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest
import requests
import responses

from payments.gateways import GatewayError, get_gateway
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory

pytestmark = pytest.mark.django_db


def form(request) -> dict[str, list[str]]:
    return parse_qs(request.body if isinstance(request.body, str) else request.body.decode())


@responses.activate
def test_razorpay_order_carries_amount_currency_and_booking_id():
    booking = BookingFactory()
    call = responses.post(
        "https://razorpay.fake/v1/orders",
        json={"id": "order_N1", "entity": "order", "amount": booking.amount_minor},
    )

    handle = get_gateway("razorpay").create_order(
        booking=booking, amount_minor=booking.amount_minor, currency="INR"
    )

    assert (handle.order_id, handle.key_id, handle.checkout_url) == (
        "order_N1",
        "rzp_test_key",
        None,
    )
    sent = call.calls[0].request
    assert json.loads(sent.body) == {
        "amount": booking.amount_minor,
        "currency": "INR",
        "receipt": f"booking-{booking.pk}",
        "notes": {"booking_id": str(booking.pk)},
    }
    expected_auth = base64.b64encode(b"rzp_test_key:rzp-key-secret-for-tests").decode()
    assert sent.headers["Authorization"] == f"Basic {expected_auth}"


@responses.activate
def test_razorpay_refund_sends_the_idempotency_header_and_notes():
    payment = PaymentFactory(gateway="razorpay", payment_id="pay_Q1")
    call = responses.post(
        "https://razorpay.fake/v1/payments/pay_Q1/refund",
        json={"id": "rfnd_Q1", "entity": "refund", "status": "pending"},
    )

    result = get_gateway("razorpay").refund(
        payment=payment, amount_minor=2500, idempotency_key="slotwise-refund-42"
    )

    assert (result.gateway_refund_id, result.status) == ("rfnd_Q1", "pending")
    sent = call.calls[0].request
    assert sent.headers["X-Refund-Idempotency"] == "slotwise-refund-42"
    body = json.loads(sent.body)
    assert body["amount"] == 2500
    assert body["notes"]["booking_id"] == str(payment.booking_id)


@pytest.mark.parametrize(
    ("status", "error_code", "retryable"),
    [(500, "SERVER_ERROR", True), (502, "GATEWAY_ERROR", True), (400, "BAD_REQUEST_ERROR", False)],
)
@responses.activate
def test_razorpay_errors_are_retryable_only_for_5xx(status, error_code, retryable):
    payment = PaymentFactory(gateway="razorpay", payment_id="pay_E")
    responses.post(
        "https://razorpay.fake/v1/payments/pay_E/refund",
        status=status,
        json={"error": {"code": error_code, "description": "nope"}},
    )

    with pytest.raises(GatewayError) as caught:
        get_gateway("razorpay").refund(payment=payment, amount_minor=1, idempotency_key="k" * 12)

    assert caught.value.retryable is retryable
    assert caught.value.status == status


@responses.activate
def test_razorpay_network_error_is_retryable():
    payment = PaymentFactory(gateway="razorpay", payment_id="pay_N")
    responses.post(
        "https://razorpay.fake/v1/payments/pay_N/refund",
        body=requests.exceptions.ConnectionError("connection refused"),
    )

    with pytest.raises(GatewayError) as caught:
        get_gateway("razorpay").refund(payment=payment, amount_minor=1, idempotency_key="k" * 12)

    assert caught.value.retryable is True


@responses.activate
def test_stripe_checkout_session_carries_amount_currency_and_metadata():
    booking = BookingFactory()
    call = responses.post(
        "https://stripe.fake/v1/checkout/sessions",
        json={
            "id": "cs_test_1",
            "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_1",
        },
    )

    handle = get_gateway("stripe").create_order(
        booking=booking, amount_minor=booking.amount_minor, currency="INR"
    )

    assert handle.order_id == "cs_test_1"
    assert handle.checkout_url == "https://checkout.stripe.com/c/pay/cs_test_1"
    sent = call.calls[0].request
    body = form(sent)
    assert body["mode"] == ["payment"]
    assert body["line_items[0][price_data][unit_amount]"] == [str(booking.amount_minor)]
    assert body["line_items[0][price_data][currency]"] == ["inr"]
    assert body["metadata[booking_id]"] == [str(booking.pk)]
    assert body["payment_intent_data[metadata][booking_id]"] == [str(booking.pk)]
    created = int(booking.created_at.timestamp())
    assert sent.headers["Idempotency-Key"] == f"slotwise-booking-{booking.pk}-{created}-checkout"
    assert sent.headers["Authorization"] == "Bearer sk_test_fake"


@responses.activate
def test_stripe_refund_sends_payment_intent_amount_and_idempotency_key():
    payment = PaymentFactory(gateway="stripe", payment_id="pi_R1")
    call = responses.post(
        "https://stripe.fake/v1/refunds",
        json={"id": "re_R1", "object": "refund", "status": "succeeded"},
    )

    result = get_gateway("stripe").refund(
        payment=payment, amount_minor=1200, idempotency_key="slotwise-refund-7"
    )

    assert (result.gateway_refund_id, result.status) == ("re_R1", "processed")
    sent = call.calls[0].request
    body = form(sent)
    assert body["payment_intent"] == ["pi_R1"]
    assert body["amount"] == ["1200"]
    assert body["metadata[booking_id]"] == [str(payment.booking_id)]
    assert sent.headers["Idempotency-Key"] == "slotwise-refund-7"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (400, False)])
@responses.activate
def test_stripe_errors_are_retryable_for_5xx_and_429_only(status, retryable):
    payment = PaymentFactory(gateway="stripe", payment_id="pi_E")
    responses.post(
        "https://stripe.fake/v1/refunds",
        status=status,
        json={"error": {"type": "api_error", "message": "nope"}},
    )

    with pytest.raises(GatewayError) as caught:
        get_gateway("stripe").refund(payment=payment, amount_minor=1, idempotency_key="k")

    assert caught.value.retryable is retryable


def test_sandbox_refund_is_immediate_and_the_same_for_the_same_key():
    payment = PaymentFactory(gateway="sandbox")
    gateway = get_gateway("sandbox")

    first = gateway.refund(payment=payment, amount_minor=100, idempotency_key="slotwise-refund-1")
    again = gateway.refund(payment=payment, amount_minor=100, idempotency_key="slotwise-refund-1")
    other = gateway.refund(payment=payment, amount_minor=100, idempotency_key="slotwise-refund-2")

    assert first.status == "processed"
    assert first == again
    assert other.gateway_refund_id != first.gateway_refund_id
