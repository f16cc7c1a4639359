"""Checkout links name the host the client reached when PUBLIC_BASE_URL is unset (a demo
on another port, or restarted on one), PUBLIC_BASE_URL when it is set; a Host header
outside ALLOWED_HOSTS is refused before any link is made."""

from __future__ import annotations

import pytest

from bookings.models import Booking
from common.links import public_url
from payments.models import Payment
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_public_base_url(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.PAYMENT_DEFAULT_GATEWAY = "sandbox"
    return settings


@pytest.fixture
def bookable():
    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    slot = SlotFactory(partner=PartnerFactory(services=[variant.service]), capacity=2)
    return {"slot_id": slot.pk, "variant_id": variant.pk}


def book(client, bookable, host: str, **extra):
    return client.post("/api/v1/bookings", bookable, format="json", headers={"host": host}, **extra)


def test_the_link_names_the_host_and_port_of_the_request(
    no_public_base_url, customer_client, bookable
):
    response = book(customer_client, bookable, "127.0.0.1:8100")

    assert response.status_code == 201, response.content
    handle = response.json()["payment"]
    assert handle["checkout_url"] == f"http://127.0.0.1:8100/sandbox/checkout/{handle['order_id']}"


def test_a_booking_shown_after_a_restart_on_another_port_gets_a_live_link(
    no_public_base_url, customer_client, bookable
):
    booking = book(customer_client, bookable, "127.0.0.1:8000").json()

    shown = customer_client.get(
        f"/api/v1/bookings/{booking['id']}", headers={"host": "localhost:8100"}
    )

    order_id = booking["payment"]["order_id"]
    assert shown.json()["payment"]["checkout_url"] == (
        f"http://localhost:8100/sandbox/checkout/{order_id}"
    )


def test_the_link_follows_the_scheme_a_trusted_proxy_reports(
    no_public_base_url, settings, customer_client, bookable
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["book.example.com"]

    response = book(customer_client, bookable, "book.example.com", HTTP_X_FORWARDED_PROTO="https")

    handle = response.json()["payment"]
    assert (
        handle["checkout_url"] == f"https://book.example.com/sandbox/checkout/{handle['order_id']}"
    )


def test_public_base_url_wins_over_the_request_when_set(settings, customer_client, bookable):
    settings.PUBLIC_BASE_URL = "https://book.example.com/"
    settings.PAYMENT_DEFAULT_GATEWAY = "sandbox"

    response = book(customer_client, bookable, "127.0.0.1:8100")

    handle = response.json()["payment"]
    assert (
        handle["checkout_url"] == f"https://book.example.com/sandbox/checkout/{handle['order_id']}"
    )


def test_a_host_outside_allowed_hosts_is_a_400_and_books_nothing(
    no_public_base_url, customer_client, bookable
):
    response = book(customer_client, bookable, "evil.example")

    assert response.status_code == 400
    assert b"evil.example/sandbox" not in response.content
    assert not Booking.objects.exists()
    assert not Payment.objects.exists()


def test_outside_a_request_links_point_at_the_run_port(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.RUN_PORT = 8100

    assert public_url("/api/v1/bookings/7") == "http://127.0.0.1:8100/api/v1/bookings/7"
