"""Slots are bounded in time, and a slot far away never breaks a booking step (issue 13 #1)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from conftest import authed_client
from partners.models import Slot
from payments.gateways.sandbox import build_payment_webhook
from payments.models import Payment
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory

URL = "/api/v1/provider/slots"


def _window(start: datetime) -> dict:
    return {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


@pytest.mark.django_db
@pytest.mark.parametrize("start", ["9999-12-31T10:00:00+05:30", "2999-06-01T10:00:00Z"])
def test_a_slot_beyond_the_horizon_is_a_400_and_nothing_is_created(partner_client, start):
    response = partner_client.post(
        URL,
        {"slots": [{"start": start, "end": start.replace("T10", "T11")}]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"validation_error", "invalid_slot_window"}
    assert not Slot.objects.exists()


@pytest.mark.django_db
def test_the_horizon_is_slot_max_days_ahead(partner_client, settings):
    settings.SLOT_MAX_DAYS_AHEAD = 10
    near = timezone.now() + timedelta(days=9)
    far = timezone.now() + timedelta(days=11)

    refused = partner_client.post(URL, {"slots": [_window(near), _window(far)]}, format="json")
    accepted = partner_client.post(URL, {"slots": [_window(near)]}, format="json")

    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "invalid_slot_window"
    assert body["errors"]["slots"]["1"] == {"start": ["Must be at most 10 days ahead."]}
    assert accepted.status_code == 201
    assert Slot.objects.count() == 1


@pytest.mark.django_db
def test_a_slot_ending_beyond_the_horizon_is_refused(partner_client, settings):
    settings.SLOT_MAX_DAYS_AHEAD = 10
    start = timezone.now() + timedelta(days=10) - timedelta(minutes=30)

    response = partner_client.post(URL, {"slots": [_window(start)]}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["slots"]["0"] == {"end": ["Must be at most 10 days ahead."]}


@pytest.mark.django_db
def test_a_slot_stored_in_year_9999_can_be_paid_and_cancelled(customer, settings):
    """Data written before the horizon existed: the capture webhook and the cancel format
    the start in the city's time zone (+05:30), which leaves the calendar."""
    settings.PAYMENT_SANDBOX_ENABLED = True
    variant = ServiceVariantFactory()
    slot = SlotFactory(
        partner=PartnerFactory(services=[variant.service]),
        start=datetime(9999, 12, 31, 20, 0, tzinfo=UTC),
        end=datetime(9999, 12, 31, 21, 0, tzinfo=UTC),
    )
    client = authed_client(customer)
    created = client.post(
        "/api/v1/bookings",
        {"slot_id": slot.pk, "variant_id": variant.pk, "gateway": "sandbox"},
        format="json",
    )
    assert created.status_code == 201, created.content
    booking_id = created.json()["id"]
    body, headers = build_payment_webhook(
        payment=Payment.objects.get(booking_id=booking_id), outcome="captured"
    )

    captured = client.post(
        "/webhooks/sandbox",
        data=body,
        content_type="application/json",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )
    assert captured.status_code == 200, captured.content
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.CONFIRMED

    cancelled = client.post(
        f"/api/v1/bookings/{booking_id}/cancel", {"reason": "Too far away"}, format="json"
    )
    assert cancelled.status_code == 200, cancelled.content
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.CANCELLED
