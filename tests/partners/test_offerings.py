"""Partners own their prices: provider/offerings, what customers see and pay, assignment."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking
from conftest import authed_client
from partners.models import PartnerOffering
from tests.factories.partners import (
    CityFactory,
    PartnerFactory,
    ServiceFactory,
    ServiceVariantFactory,
    SlotFactory,
    offer,
)

OFFERINGS = "/api/v1/provider/offerings"
BOOKINGS = "/api/v1/bookings"
ASSIGN = "/api/v1/partners/assign"


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


@pytest.fixture
def catalog(db):
    service = ServiceFactory(slug="cleaning", name="Cleaning")
    basic = ServiceVariantFactory(service=service, price_minor=49900)
    premium = ServiceVariantFactory(
        service=service, name="Premium", tier="premium", price_minor=89900, duration_minutes=90
    )
    return service, basic, premium


@pytest.fixture
def pune(db):
    return CityFactory(slug="pune", name="Pune", currency="")


@pytest.fixture
def seller(pune):
    return PartnerFactory(city=pune, rating="4.60")


@pytest.fixture
def seller_client(seller):
    return authed_client(seller.user)


def _slot(partner, *, hours=48, capacity=3, length=2):
    start = (timezone.now() + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    return SlotFactory(
        partner=partner, start=start, end=start + timedelta(hours=length), capacity=capacity
    )


# --- provider/offerings ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_partner_offers_a_variant_at_its_own_price_in_the_platform_currency(
    seller_client, seller, catalog, settings
):
    settings.DEFAULT_CURRENCY = "INR"
    _service, basic, _premium = catalog

    response = seller_client.post(
        OFFERINGS, {"variant_id": basic.pk, "price_minor": 45000}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    offering = PartnerOffering.objects.get(partner=seller)
    assert body == {
        "id": offering.pk,
        "variant_id": basic.pk,
        "service_id": basic.service_id,
        "service": "cleaning",
        "name": "Basic",
        "tier": "basic",
        "duration_minutes": 60,
        "price_minor": 45000,
        "currency": "INR",
        "active": True,
        "updated_at": body["updated_at"],
    }
    listed = seller_client.get(OFFERINGS).json()["results"]
    assert [item["id"] for item in listed] == [offering.pk]


@pytest.mark.django_db
def test_the_city_currency_wins_over_the_platform_default(catalog):
    _service, basic, _premium = catalog
    partner = PartnerFactory(city=CityFactory(slug="dubai", currency="AED"))

    response = authed_client(partner.user).post(
        OFFERINGS, {"variant_id": basic.pk, "price_minor": 9900}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["currency"] == "AED"


@pytest.mark.django_db
@pytest.mark.parametrize("price", [0, -1, 10_000_001, "12.5", None, "abc"])
def test_a_price_outside_one_to_the_maximum_is_a_400_and_creates_nothing(
    seller_client, catalog, settings, price
):
    settings.OFFERING_MAX_PRICE_MINOR = 10_000_000
    _service, basic, _premium = catalog

    response = seller_client.post(
        OFFERINGS, {"variant_id": basic.pk, "price_minor": price}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"validation_error", "invalid_price"}
    assert not PartnerOffering.objects.exists()


@pytest.mark.django_db
def test_the_maximum_price_is_configurable(seller_client, seller, catalog, settings):
    _service, basic, _premium = catalog
    settings.OFFERING_MAX_PRICE_MINOR = 1000
    body = {"variant_id": basic.pk, "price_minor": 1001}

    _problem(seller_client.post(OFFERINGS, body, format="json"), 400, "invalid_price")
    ok = seller_client.post(OFFERINGS, {**body, "price_minor": 1000}, format="json")
    assert ok.status_code == 201, ok.content
    offering_url = f"{OFFERINGS}/{ok.json()['id']}"
    _problem(
        seller_client.patch(offering_url, {"price_minor": 1001}, format="json"),
        400,
        "invalid_price",
    )
    assert PartnerOffering.objects.get(partner=seller).price_minor == 1000


@pytest.mark.django_db
def test_unknown_or_inactive_variants_cannot_be_offered(seller_client, catalog):
    _service, basic, _premium = catalog
    retired = ServiceVariantFactory(service=basic.service, tier="express", active=False)

    for variant_id in (retired.pk, 99999999, "x"):
        response = seller_client.post(
            OFFERINGS, {"variant_id": variant_id, "price_minor": 100}, format="json"
        )
        _problem(response, 400, "validation_error")
    assert not PartnerOffering.objects.exists()


@pytest.mark.django_db
def test_offering_a_variant_twice_is_a_409(seller_client, seller, catalog):
    _service, basic, _premium = catalog
    offer(seller, basic, price_minor=40000)

    response = seller_client.post(
        OFFERINGS, {"variant_id": basic.pk, "price_minor": 45000}, format="json"
    )

    _problem(response, 409, "offering_exists")
    assert PartnerOffering.objects.get().price_minor == 40000


@pytest.mark.django_db
def test_patch_changes_price_and_delete_deactivates_only_own_offerings(
    seller_client, seller, catalog
):
    _service, basic, _premium = catalog
    mine = offer(seller, basic, price_minor=40000)
    theirs = offer(PartnerFactory(), basic, price_minor=41000)

    patched = seller_client.patch(f"{OFFERINGS}/{mine.pk}", {"price_minor": 42000}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["price_minor"], patched.json()["active"]) == (42000, True)

    _problem(
        seller_client.patch(f"{OFFERINGS}/{theirs.pk}", {"price_minor": 1}, format="json"),
        404,
        "offering_not_found",
    )
    _problem(seller_client.delete(f"{OFFERINGS}/{theirs.pk}"), 404, "offering_not_found")
    _problem(seller_client.get(f"{OFFERINGS}/{theirs.pk}"), 404, "offering_not_found")

    assert seller_client.delete(f"{OFFERINGS}/{mine.pk}").status_code == 204
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.price_minor, mine.active) == (42000, False)
    assert (theirs.price_minor, theirs.active) == (41000, True)
    assert seller_client.get(f"{OFFERINGS}/{mine.pk}").json()["active"] is False


@pytest.mark.django_db
def test_customers_cannot_manage_offerings(customer_client, catalog):
    _service, basic, _premium = catalog
    response = customer_client.post(
        OFFERINGS, {"variant_id": basic.pk, "price_minor": 1}, format="json"
    )
    assert response.status_code == 403
    assert not PartnerOffering.objects.exists()


# --- what customers see ---------------------------------------------------------------------


@pytest.mark.django_db
def test_partner_list_and_detail_show_active_offerings_with_prices_and_a_numeric_rating(
    api_client, seller, catalog
):
    _service, basic, premium = catalog
    offer(seller, basic, price_minor=45000)
    offer(seller, premium, price_minor=85000, active=False)

    listed = api_client.get("/api/v1/partners").json()["results"]
    detail = api_client.get(f"/api/v1/partners/{seller.pk}").json()

    assert listed == [detail]
    assert detail["rating"] == 4.6
    assert detail["services"] == [{"id": basic.service_id, "name": "Cleaning", "slug": "cleaning"}]
    assert detail["offerings"] == [
        {
            "variant_id": basic.pk,
            "service_id": basic.service_id,
            "service": "cleaning",
            "name": "Basic",
            "tier": "basic",
            "duration_minutes": 60,
            "price_minor": 45000,
            "currency": "INR",
        }
    ]


@pytest.mark.django_db
def test_the_service_filter_lists_only_partners_with_an_active_offering_of_it(
    api_client, pune, catalog
):
    _service, basic, _premium = catalog
    selling = PartnerFactory(city=pune)
    offer(selling, basic)
    stopped = PartnerFactory(city=pune)
    offer(stopped, basic, active=False)

    response = api_client.get("/api/v1/partners?service=cleaning")

    assert [item["id"] for item in response.json()["results"]] == [selling.pk]


# --- what customers pay ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_customer_pays_the_partners_own_price_times_the_quantity(
    customer_client, pune, catalog
):
    _service, basic, _premium = catalog
    cheap, dear = PartnerFactory(city=pune), PartnerFactory(city=pune)
    offer(cheap, basic, price_minor=39900)
    offer(dear, basic, price_minor=59900)

    amounts = []
    for partner in (cheap, dear):
        body = {"slot_id": _slot(partner).pk, "variant_id": basic.pk, "quantity": 2}
        response = customer_client.post(BOOKINGS, body, format="json")
        assert response.status_code == 201, response.content
        amounts.append((response.json()["amount"], response.json()["currency"]))

    assert amounts == [(79800, "INR"), (119800, "INR")]
    assert sorted(Booking.objects.values_list("amount_minor", flat=True)) == [79800, 119800]


@pytest.mark.django_db(transaction=True)
def test_price_changes_and_deactivation_leave_existing_bookings_alone(
    customer_client, seller, seller_client, catalog
):
    _service, basic, _premium = catalog
    offering = offer(seller, basic, price_minor=50000)
    slot = _slot(seller)
    first = customer_client.post(
        BOOKINGS, {"slot_id": slot.pk, "variant_id": basic.pk}, format="json"
    )
    assert first.status_code == 201, first.content

    seller_client.patch(f"{OFFERINGS}/{offering.pk}", {"price_minor": 70000}, format="json")
    second = customer_client.post(
        BOOKINGS, {"slot_id": slot.pk, "variant_id": basic.pk}, format="json"
    )
    assert second.status_code == 201, second.content
    assert seller_client.delete(f"{OFFERINGS}/{offering.pk}").status_code == 204
    third = customer_client.post(
        BOOKINGS, {"slot_id": slot.pk, "variant_id": basic.pk}, format="json"
    )

    _problem(third, 400, "variant_not_offered")
    amounts = dict(Booking.objects.values_list("pk", "amount_minor"))
    assert amounts == {first.json()["id"]: 50000, second.json()["id"]: 70000}
    assert customer_client.get(f"{BOOKINGS}/{first.json()['id']}").json()["amount"] == 50000
    slot.refresh_from_db()
    assert slot.booked == 2


# --- assignment -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_assign_considers_only_partners_offering_the_variant_and_returns_its_price(
    customer_client, pune, catalog
):
    service, basic, premium = catalog
    start_hours = 30
    best_rated = PartnerFactory(city=pune, rating="5.00")
    offer(best_rated, basic, price_minor=30000)  # offers only the basic variant
    _slot(best_rated, hours=start_hours)
    inactive = PartnerFactory(city=pune, rating="4.90")
    offer(inactive, premium, price_minor=70000, active=False)
    _slot(inactive, hours=start_hours)
    seller = PartnerFactory(city=pune, rating="4.00")
    offer(seller, premium, price_minor=95000)
    offer(seller, basic, price_minor=41000)
    slot = _slot(seller, hours=start_hours)

    premium_job = customer_client.post(
        ASSIGN, {"city": "pune", "service": service.slug, "variant": premium.pk}, format="json"
    )
    any_job = customer_client.post(ASSIGN, {"city": "pune", "service": service.slug}, format="json")

    assert premium_job.status_code == 200, premium_job.content
    body = premium_job.json()
    assert (body["partner"]["id"], body["slot"]["id"]) == (seller.pk, slot.pk)
    assert (body["variant_id"], body["price_minor"], body["currency"]) == (premium.pk, 95000, "INR")
    assert body["partner"]["rating"] == 4.0
    assert any_job.status_code == 200, any_job.content
    # Without a variant: the best partner offering the service, at its cheapest fitting price.
    assert (any_job.json()["partner"]["id"], any_job.json()["price_minor"]) == (
        best_rated.pk,
        30000,
    )
    assert any_job.json()["variant_id"] == basic.pk


@pytest.mark.django_db
def test_assign_ignores_partners_whose_offerings_of_the_service_are_inactive(
    customer_client, pune, catalog
):
    service, basic, premium = catalog
    partner = PartnerFactory(city=pune)
    offer(partner, basic, active=False)
    offer(partner, premium, active=False)
    _slot(partner)

    response = customer_client.post(
        ASSIGN, {"city": "pune", "service": service.slug}, format="json"
    )

    _problem(response, 404, "no_partner_available")
