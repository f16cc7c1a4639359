"""POST /api/v1/bookings/{id}/payment/verify: the Razorpay Checkout success handler."""

from __future__ import annotations

import json

import pytest
import responses

from bookings.models import Booking, BookingEvent, BookingStatus
from conftest import authed_client
from payments.models import Payment, WebhookEvent
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import (
    RAZORPAY_KEY_SECRET,
    hmac_hex,
    post_webhook,
    razorpay_delivery,
    razorpay_payment_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment(customer):
    booking = BookingFactory(customer=customer)
    return PaymentFactory(booking=booking, gateway="razorpay", order_id="order_V1")


def checkout_fields(order_id: str, payment_id: str = "pay_V1", secret=RAZORPAY_KEY_SECRET):
    signature = hmac_hex(f"{order_id}|{payment_id}".encode(), secret)
    return {
        "razorpay_order_id": order_id,
        "razorpay_payment_id": payment_id,
        "razorpay_signature": signature,
    }


def url(booking_id: int) -> str:
    return f"/api/v1/bookings/{booking_id}/payment/verify"


def test_valid_signature_confirms_the_booking(customer_client, payment):
    response = customer_client.post(
        url(payment.booking_id), checkout_fields("order_V1"), format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == BookingStatus.CONFIRMED
    payment.refresh_from_db()
    assert (payment.status, payment.payment_id) == (Payment.Status.CAPTURED, "pay_V1")


@pytest.mark.parametrize("tamper", ["secret", "payment_id", "client_order_id", "non_ascii"])
def test_bad_signature_is_400_and_changes_nothing(customer_client, payment, tamper):
    if tamper == "secret":
        fields = checkout_fields("order_V1", secret="wrong")
    elif tamper == "non_ascii":  # hmac.compare_digest raises TypeError on non-ASCII str
        fields = {**checkout_fields("order_V1"), "razorpay_signature": "é" * 64}
    elif tamper == "payment_id":
        fields = {**checkout_fields("order_V1"), "razorpay_payment_id": "pay_OTHER"}
    else:  # signed for another order: our stored order id is what counts
        fields = checkout_fields("order_SOMEONE_ELSES")

    response = customer_client.post(url(payment.booking_id), fields, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


def test_another_customers_booking_is_404(payment):
    from tests.factories.accounts import CustomerFactory

    response = authed_client(CustomerFactory()).post(
        url(payment.booking_id), checkout_fields("order_V1"), format="json"
    )

    assert response.status_code == 404
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT


def test_missing_fields_are_400(customer_client, payment):
    response = customer_client.post(
        url(payment.booking_id), {"razorpay_order_id": "x"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"razorpay_payment_id", "razorpay_signature"}


def _deliver_capture_webhook(client, payment):
    """Razorpay's signed ``payment.captured`` webhook for order_V1 / pay_V1, full amount."""
    body, headers = razorpay_delivery(
        razorpay_payment_event(
            "payment.captured",
            order_id="order_V1",
            amount=payment.amount_minor,
            payment_id="pay_V1",
        )
    )
    return post_webhook(client, "razorpay", body, headers)


def test_verify_then_webhook_confirms_once(customer_client, client, payment):
    customer_client.post(url(payment.booking_id), checkout_fields("order_V1"), format="json")
    _deliver_capture_webhook(client, payment)

    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.PROCESSED
    assert (
        BookingEvent.objects.filter(booking_id=payment.booking_id, to_status="CONFIRMED").count()
        == 1
    )


def test_webhook_then_verify_is_a_no_op(customer_client, client, payment):
    _deliver_capture_webhook(client, payment)

    response = customer_client.post(
        url(payment.booking_id), checkout_fields("order_V1"), format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == BookingStatus.CONFIRMED
    assert (
        BookingEvent.objects.filter(booking_id=payment.booking_id, to_status="CONFIRMED").count()
        == 1
    )


def test_a_sandbox_booking_cannot_be_verified_as_razorpay(customer, customer_client):
    payment = PaymentFactory(booking=BookingFactory(customer=customer), gateway="sandbox")

    response = customer_client.post(
        url(payment.booking_id), checkout_fields(payment.order_id), format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_gateway"


def test_verify_after_a_mismatched_capture_does_not_confirm(customer_client, client, payment):
    body, headers = razorpay_delivery(
        razorpay_payment_event(
            "payment.captured", order_id="order_V1", amount=payment.amount_minor - 1
        )
    )
    post_webhook(client, "razorpay", body, headers)

    response = customer_client.post(
        url(payment.booking_id), checkout_fields("order_V1"), format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == BookingStatus.PENDING_PAYMENT
    payment.refresh_from_db()
    assert payment.flagged is True


@responses.activate
def test_razorpay_booking_over_http_then_checkout_verify_confirms(customer_client):
    variant = ServiceVariantFactory(price_minor=59900, currency="INR")
    slot = SlotFactory(partner=PartnerFactory(services=[variant.service]))
    order_call = responses.post(
        "https://razorpay.fake/v1/orders", json={"id": "order_HTTP1", "amount": 59900}
    )

    created = customer_client.post(
        "/api/v1/bookings",
        {"slot_id": slot.pk, "variant_id": variant.pk, "gateway": "razorpay"},
        format="json",
    )

    assert created.status_code == 201, created.content
    booking_id = created.json()["id"]
    assert created.json()["payment"] == {
        "gateway": "razorpay",
        "order_id": "order_HTTP1",
        "amount": 59900,
        "currency": "INR",
        "status": "created",
        "checkout_url": None,
        "key_id": "rzp_test_key",
    }
    sent = json.loads(order_call.calls[0].request.body)
    assert (sent["amount"], sent["currency"], sent["notes"]) == (
        59900,
        "INR",
        {"booking_id": str(booking_id)},
    )

    verified = customer_client.post(
        url(booking_id), checkout_fields("order_HTTP1", "pay_HTTP1"), format="json"
    )

    assert verified.status_code == 200
    assert verified.json()["status"] == BookingStatus.CONFIRMED
