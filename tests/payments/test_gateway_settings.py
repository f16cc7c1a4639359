"""The sandbox gateway confirms bookings without money, so only the embedded default has
it out of the box. The defaults are read from ``config/settings.py`` in a fresh
interpreter with a clean environment: the suite itself runs with the sandbox opted in
(see the Makefile), so this process's settings cannot show them."""

from __future__ import annotations

import pytest
import responses

from bookings.models import Booking, BookingStatus
from partners.models import Slot
from payments.gateways.sandbox import build_payment_webhook
from payments.models import Payment, WebhookEvent
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import import_settings, payment_settings, post_webhook

PRODUCTION = {"DATABASE_URL": "postgres://slotwise@db.invalid:5432/slotwise"}


def test_the_embedded_default_pays_through_the_sandbox():
    assert payment_settings() == {
        "PAYMENT_DEFAULT_GATEWAY": "sandbox",
        "PAYMENT_SANDBOX_ENABLED": True,
    }


def test_with_a_database_url_bookings_default_to_razorpay_and_the_sandbox_is_off():
    assert payment_settings(**PRODUCTION) == {
        "PAYMENT_DEFAULT_GATEWAY": "razorpay",
        "PAYMENT_SANDBOX_ENABLED": False,
    }


def test_with_a_database_url_the_sandbox_takes_an_explicit_opt_in():
    opted_in = payment_settings(
        **PRODUCTION, PAYMENT_SANDBOX_ENABLED="true", PAYMENT_DEFAULT_GATEWAY="sandbox"
    )

    assert opted_in == {"PAYMENT_DEFAULT_GATEWAY": "sandbox", "PAYMENT_SANDBOX_ENABLED": True}


def test_naming_the_sandbox_the_default_without_the_opt_in_refuses_to_start():
    # What a .env copied from the old .env.example (PAYMENT_DEFAULT_GATEWAY=sandbox) did.
    result = import_settings(**PRODUCTION, PAYMENT_DEFAULT_GATEWAY="sandbox")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PAYMENT_SANDBOX_ENABLED" in result.stderr


@pytest.fixture
def production_defaults(settings):
    """This process's settings, with the payment values a production start really gets."""
    for name, value in payment_settings(**PRODUCTION).items():
        setattr(settings, name, value)
    return settings


@pytest.mark.django_db
@responses.activate
def test_with_the_production_defaults_nobody_can_pay_through_the_sandbox(
    production_defaults, customer_client, client
):
    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    slot = SlotFactory(partner=PartnerFactory(services=[variant.service]), capacity=1)
    order = responses.post(
        "https://razorpay.fake/v1/orders",
        json={"id": "order_Prod1", "entity": "order", "amount": 49900, "currency": "INR"},
    )
    body = {"slot_id": slot.pk, "variant_id": variant.pk}

    refused = customer_client.post(
        "/api/v1/bookings", {**body, "gateway": "sandbox"}, format="json"
    )
    default = customer_client.post("/api/v1/bookings", body, format="json")

    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "gateway_disabled"
    assert default.status_code == 201, default.content
    assert default.json()["payment"]["gateway"] == "razorpay"
    assert order.call_count == 1
    assert Payment.objects.get().gateway == "razorpay"
    abandoned = Booking.objects.exclude(pk=default.json()["id"]).get()  # the refused one
    assert abandoned.status == BookingStatus.CANCELLED
    assert Slot.objects.get(pk=slot.pk).booked == 1  # only the razorpay booking holds a seat

    # A sandbox order made while the sandbox was on: its pages and webhook are gone.
    sandbox = PaymentFactory(gateway="sandbox", order_id="sbx_order_prod")
    delivered, headers = build_payment_webhook(payment=sandbox, outcome="captured")
    signed = {"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]}
    assert client.get(f"/sandbox/checkout/{sandbox.order_id}").status_code == 404
    assert client.post(f"/sandbox/checkout/{sandbox.order_id}/pay").status_code == 404
    webhook = post_webhook(client, "sandbox", delivered, signed)
    assert webhook.status_code == 404
    assert webhook["Content-Type"] == "application/problem+json"
    assert WebhookEvent.objects.count() == 0
    sandbox.refresh_from_db()
    assert sandbox.status == Payment.Status.CREATED
    assert sandbox.booking.status == BookingStatus.PENDING_PAYMENT
