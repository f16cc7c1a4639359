"""Admin times are in the zone they belong to, always with the zone named; the API is not
affected by the operators' zone."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from common.admin_time import in_zone
from payments.models import WebhookEvent
from tests.factories.bookings import BookingFactory
from tests.factories.partners import CityFactory, PartnerFactory, SlotFactory

NINE_IN_DELHI = datetime(2030, 1, 15, 3, 30, tzinfo=UTC)  # 09:00 IST, "3:30 a.m." in UTC


def test_in_zone_names_the_zone():
    assert in_zone(NINE_IN_DELHI, "Asia/Kolkata") == "15 Jan 2030, 09:00 IST"
    assert in_zone(NINE_IN_DELHI, "UTC") == "15 Jan 2030, 03:30 UTC"
    assert in_zone(None, "Asia/Kolkata") == "-"


@pytest.mark.django_db
def test_slot_list_shows_each_slot_in_its_city_zone(admin_client_support):
    delhi = SlotFactory(start=NINE_IN_DELHI, partner=PartnerFactory(city=CityFactory()))
    london = CityFactory(time_zone="Europe/London")
    SlotFactory(start=NINE_IN_DELHI, partner=PartnerFactory(city=london))

    content = admin_client_support.get("/admin/partners/slot/").content.decode()

    assert "15 Jan 2030, 09:00 IST – 10:00" in content
    assert "15 Jan 2030, 03:30 GMT – 04:30" in content
    change = admin_client_support.get(f"/admin/partners/slot/{delhi.pk}/change/").content
    assert b'value="09:00:00"' in change  # the form is in the city's wall clock too
    assert b"In Asia/Kolkata." in change


@pytest.mark.django_db
def test_other_times_are_in_the_operators_zone_with_its_name(admin_client_support, settings):
    event = WebhookEvent.objects.create(
        gateway="sandbox", event_id="evt_1", event_type="payment.captured", payload={}
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=NINE_IN_DELHI)
    url = "/admin/payments/webhookevent/"

    assert "15 Jan 2030, 09:00 IST" in admin_client_support.get(url).content.decode()
    settings.ADMIN_TIME_ZONE = "UTC"
    assert "15 Jan 2030, 03:30 UTC" in admin_client_support.get(url).content.decode()


@pytest.mark.django_db
def test_the_operators_zone_stays_in_the_admin(
    admin_client_support, customer, customer_client, settings
):
    settings.ADMIN_TIME_ZONE = "Asia/Tokyo"
    booking = BookingFactory(customer=customer, slot=SlotFactory(start=NINE_IN_DELHI))
    admin_client_support.get("/admin/bookings/booking/")
    assert timezone.get_current_timezone_name() == "UTC"
    body = customer_client.get(f"/api/v1/bookings/{booking.pk}").json()
    assert body["slot_start"] in ("2030-01-15T03:30:00Z", "2030-01-15T03:30:00+00:00")
