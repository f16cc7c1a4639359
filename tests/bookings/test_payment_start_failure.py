"""When the gateway cannot create the order, the held seats go back and the key is free."""

import pytest
import responses

from bookings.models import Booking, BookingStatus
from common.models import IdempotencyKey
from payments.models import Payment

URL = "/api/v1/bookings"


@pytest.fixture
def razorpay(settings):
    settings.RAZORPAY_KEY_ID = "rzp_test_key"
    settings.RAZORPAY_KEY_SECRET = "rzp-secret"
    settings.RAZORPAY_API_BASE = "https://razorpay.fake"


@pytest.mark.django_db
@responses.activate
def test_gateway_failure_cancels_the_hold_and_the_same_key_can_retry(
    razorpay, customer_client, make_slot, variant
):
    slot = make_slot(capacity=1)
    body = {"slot_id": slot.pk, "variant_id": variant.pk, "gateway": "razorpay"}
    responses.post(
        "https://razorpay.fake/v1/orders",
        status=500,
        json={"error": {"code": "SERVER_ERROR", "description": "down"}},
    )

    failed = customer_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert failed.status_code == 503
    assert failed.json()["code"] == "payment_gateway_unavailable"
    abandoned = Booking.objects.get()
    assert abandoned.status == BookingStatus.CANCELLED
    assert abandoned.holds_seats is False
    assert abandoned.events.filter(to_status=BookingStatus.CANCELLED).count() == 1
    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Payment.objects.exists()
    assert not IdempotencyKey.objects.exists()

    responses.replace(
        responses.POST,
        "https://razorpay.fake/v1/orders",
        json={
            "id": "order_RETRY1",
            "entity": "order",
            "amount": variant.price_minor,
            "currency": "INR",
            "status": "created",
        },
    )
    retried = customer_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert retried.status_code == 201, retried.content
    assert retried.json()["payment"]["order_id"] == "order_RETRY1"
    assert retried.json()["payment"]["key_id"] == "rzp_test_key"
    slot.refresh_from_db()
    assert slot.booked == 1
    assert Booking.objects.filter(status=BookingStatus.PENDING_PAYMENT).count() == 1
