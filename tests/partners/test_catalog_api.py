from datetime import timedelta

import pytest
from django.utils import timezone

from partners.models import ServiceVariant
from tests.factories.partners import (
    CityFactory,
    PartnerFactory,
    ServiceFactory,
    ServiceVariantFactory,
    SlotFactory,
)


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def _ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@pytest.mark.django_db
def test_services_list_active_variants_with_integer_prices(api_client):
    service = ServiceFactory(name="Cleaning", slug="cleaning")
    basic = ServiceVariantFactory(service=service, tier="basic", price_minor=49900)
    ServiceVariantFactory(service=service, tier="premium", name="Premium", active=False)
    ServiceFactory(slug="retired", active=False)

    response = api_client.get("/api/v1/services")

    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["slug"] == "cleaning"
    assert item["variants"] == [
        {
            "id": basic.pk,
            "name": "Basic",
            "tier": "basic",
            "price_minor": 49900,
            "currency": "INR",
            "duration_minutes": 60,
        }
    ]
    assert ServiceVariant.objects.count() == 2


@pytest.mark.django_db
def test_cities_are_listed(api_client):
    CityFactory(name="Pune", slug="pune", time_zone="Asia/Kolkata")

    response = api_client.get("/api/v1/cities")

    assert response.json()["results"] == [
        {
            "id": response.json()["results"][0]["id"],
            "name": "Pune",
            "slug": "pune",
            "time_zone": "Asia/Kolkata",
        }
    ]


@pytest.mark.django_db
def test_partners_are_filtered_by_city_and_service_and_hide_unverified_or_inactive(api_client):
    pune, goa = CityFactory(slug="pune"), CityFactory(slug="goa")
    cleaning, yoga = ServiceFactory(slug="cleaning"), ServiceFactory(slug="yoga")
    ServiceVariantFactory(service=cleaning)
    ServiceVariantFactory(service=yoga)
    pune_cleaner = PartnerFactory(city=pune, services=[cleaning])
    pune_yoga = PartnerFactory(city=pune, services=[yoga])
    goa_cleaner = PartnerFactory(city=goa, services=[cleaning])
    PartnerFactory(city=pune, services=[cleaning], verified=False)
    PartnerFactory(city=pune, services=[cleaning], active=False)

    assert set(_ids(api_client.get("/api/v1/partners"))) == {
        pune_cleaner.pk,
        pune_yoga.pk,
        goa_cleaner.pk,
    }
    assert set(_ids(api_client.get("/api/v1/partners?city=pune"))) == {
        pune_cleaner.pk,
        pune_yoga.pk,
    }
    assert _ids(api_client.get("/api/v1/partners?city=pune&service=cleaning")) == [pune_cleaner.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["city=atlantis", "service=time-travel", "city=pu%00ne", "service=%00"]
)
def test_unknown_city_or_service_slug_is_a_400(api_client, query):
    PartnerFactory()

    body = _problem(api_client.get(f"/api/v1/partners?{query}"), 400, "validation_error")

    assert query.split("=")[0] in body["errors"]


@pytest.mark.django_db
def test_empty_filter_parameters_are_ignored(api_client):
    partner = PartnerFactory()

    assert _ids(api_client.get("/api/v1/partners?city=&service=")) == [partner.pk]


@pytest.mark.django_db
def test_oversized_page_size_is_a_400(api_client):
    body = _problem(api_client.get("/api/v1/partners?page_size=1000"), 400, "validation_error")

    assert "page_size" in body["errors"]


@pytest.mark.django_db
def test_partner_detail_shows_only_public_partners(api_client):
    public = PartnerFactory()
    hidden = PartnerFactory(verified=False)

    assert api_client.get(f"/api/v1/partners/{public.pk}").json()["id"] == public.pk
    _problem(api_client.get(f"/api/v1/partners/{hidden.pk}"), 404, "partner_not_found")


@pytest.mark.django_db
def test_public_slots_show_only_bookable_future_slots_in_the_shape_clients_use(api_client):
    partner = PartnerFactory()
    start = timezone.now() + timedelta(days=1)
    open_slot = SlotFactory(
        partner=partner, start=start, end=start + timedelta(hours=1), capacity=3, booked=1
    )
    SlotFactory(
        partner=partner,
        start=start + timedelta(hours=1),
        end=start + timedelta(hours=2),
        blocked=True,
    )
    SlotFactory(
        partner=partner,
        start=start + timedelta(hours=2),
        end=start + timedelta(hours=3),
        capacity=2,
        booked=2,
    )
    SlotFactory(
        partner=partner,
        start=timezone.now() - timedelta(hours=2),
        end=timezone.now() - timedelta(hours=1),
    )
    SlotFactory(start=start, end=start + timedelta(hours=1))  # another partner's

    response = api_client.get(f"/api/v1/partners/{partner.pk}/slots")

    assert response.status_code == 200
    [slot] = response.json()["results"]
    assert slot == {
        "id": open_slot.pk,
        "partner_id": partner.pk,
        "start": slot["start"],
        "end": slot["end"],
        "capacity": 3,
        "booked": 1,
        "available": 2,
        "blocked": False,
        "seat_types": [
            {
                "code": "standard",
                "label": "Standard",
                "capacity": 3,
                "booked": 1,
                "available": 2,
                "price_minor": None,
            }
        ],
    }
    all_slots = api_client.get(f"/api/v1/partners/{partner.pk}/slots?all=true")
    assert all_slots.json()["count"] == 4


@pytest.mark.django_db
def test_public_slots_respect_the_from_to_window(api_client):
    partner = PartnerFactory()
    day = (timezone.now() + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    slots = [
        SlotFactory(
            partner=partner, start=day + timedelta(hours=h), end=day + timedelta(hours=h + 1)
        )
        for h in (8, 10, 12)
    ]
    window = {
        "from": (day + timedelta(hours=9)).isoformat(),
        "to": (day + timedelta(hours=12)).isoformat(),
    }

    response = api_client.get(f"/api/v1/partners/{partner.pk}/slots", window)

    assert _ids(response) == [slots[1].pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"from": "yesterday"},
        {"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
        {"all": "maybe"},
    ],
    ids=["bad-datetime", "to-before-from", "bad-boolean"],
)
def test_bad_slot_queries_are_a_400(api_client, query):
    partner = PartnerFactory()

    _problem(api_client.get(f"/api/v1/partners/{partner.pk}/slots", query), 400, "validation_error")


@pytest.mark.django_db
def test_slot_window_without_a_utc_offset_is_a_400(api_client):
    partner = PartnerFactory()

    response = api_client.get(
        f"/api/v1/partners/{partner.pk}/slots",
        {"from": "2030-01-01T09:00:00Z", "to": "2030-01-01T18:00:00"},
    )

    body = _problem(response, 400, "validation_error")
    assert list(body["errors"]) == ["to"]
    assert "UTC offset" in body["errors"]["to"][0]


@pytest.mark.django_db
def test_slots_of_a_hidden_or_missing_partner_are_a_404(api_client):
    hidden = PartnerFactory(active=False)
    SlotFactory(partner=hidden)

    _problem(api_client.get(f"/api/v1/partners/{hidden.pk}/slots"), 404, "partner_not_found")
    _problem(api_client.get("/api/v1/partners/999999/slots"), 404, "partner_not_found")
