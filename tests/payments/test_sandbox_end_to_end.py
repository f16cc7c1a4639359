"""End to end in the embedded default: book over HTTP without naming a gateway, open
the sandbox checkout page, press Pay -> a signed webhook reaches ``/webhooks/sandbox``
and the booking is CONFIRMED."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from bookings.models import Booking, BookingStatus
from payments.models import WebhookEvent
from payments.sandbox_views import USER_AGENT
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory
from tests.payments.conftest import SANDBOX_SECRET, hmac_hex, payment_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def embedded_default(settings):
    """The payment settings of the embedded default (no DATABASE_URL), read from a fresh
    process: the suite runs in production mode with the sandbox opted in."""
    for name, value in payment_settings().items():
        setattr(settings, name, value)
    assert settings.PAYMENT_DEFAULT_GATEWAY == "sandbox"
    return settings


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_book_open_checkout_pay_confirms_the_booking(embedded_default, customer_client):
    """The embedded-default flow, all over HTTP (CSRF enforced on the checkout form)."""
    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    slot = SlotFactory(partner=PartnerFactory(services=[variant.service]), capacity=2)

    created = customer_client.post(
        "/api/v1/bookings", {"slot_id": slot.pk, "variant_id": variant.pk}, format="json"
    )
    assert created.status_code == 201, created.content
    booking = created.json()
    handle = booking["payment"]
    assert handle["gateway"] == "sandbox"
    assert handle["order_id"].startswith("sbx_order_")
    assert (handle["amount"], handle["currency"], handle["status"]) == (49900, "INR", "created")
    assert handle["key_id"] is None

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path_of(handle["checkout_url"]))
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "INR 499.00" in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    pay_action = re.search(r'<form method="post" action="([^"]+/pay)"', html).group(1)

    paid = browser.post(pay_action, {"csrfmiddlewaretoken": token}, follow=True)

    assert paid.status_code == 200
    assert "CONFIRMED" in paid.content.decode()
    assert Booking.objects.get(pk=booking["id"]).status == BookingStatus.CONFIRMED
    detail = customer_client.get(f"/api/v1/bookings/{booking['id']}").json()
    assert detail["status"] == BookingStatus.CONFIRMED
    assert detail["payment"]["status"] == "captured"
    event = WebhookEvent.objects.get()
    assert (event.gateway, event.event_type, event.outcome) == (
        "sandbox",
        "payment.captured",
        WebhookEvent.Outcome.PROCESSED,
    )
    # It came as an HTTP request to the webhook endpoint (the headers the view kept from
    # it), signed over the raw body with the sandbox secret.
    assert event.headers["User-Agent"] == USER_AGENT
    assert event.headers["Content-Type"] == "application/json"
    assert event.headers["X-Sandbox-Signature"] == hmac_hex(event.raw_body.encode(), SANDBOX_SECRET)
    assert event.headers["X-Sandbox-Event-Id"] == event.event_id
