from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F
from django.utils import timezone

from partners.models import City, Partner, Slot
from tests.factories.bookings import BookingFactory
from tests.factories.partners import (
    CityFactory,
    PartnerFactory,
    ServiceVariantFactory,
    SlotFactory,
    offer,
)


def city_time(moment: datetime) -> datetime:
    """The factory city's wall clock (Asia/Kolkata, also the default ADMIN_TIME_ZONE): the
    slot form is typed in the slot's city zone, the add form in the operators' zone."""
    return timezone.localtime(moment, ZoneInfo("Asia/Kolkata"))


@pytest.fixture
def admin_client(client, support_user):
    client.force_login(support_user)
    return client


@pytest.mark.django_db
def test_admin_actions_verify_and_deactivate_partners(admin_client):
    pending = PartnerFactory(verified=False)
    other = PartnerFactory(verified=False)

    admin_client.post(
        "/admin/partners/partner/",
        {"action": "verify", "_selected_action": [pending.pk]},
    )
    admin_client.post(
        "/admin/partners/partner/",
        {"action": "deactivate", "_selected_action": [pending.pk]},
    )

    pending.refresh_from_db()
    other.refresh_from_db()
    assert (pending.verified, pending.active) == (True, False)
    assert (other.verified, other.active) == (False, True)


@pytest.mark.django_db
def test_partner_changelist_filters_by_city_and_verified_and_searches(admin_client):
    pune = CityFactory(slug="pune")
    target = PartnerFactory(city=pune, verified=False, name="Pune Pipes")
    PartnerFactory(city=pune, verified=True)
    PartnerFactory(verified=False)

    filtered = admin_client.get(
        "/admin/partners/partner/", {"city__id__exact": pune.pk, "verified__exact": "0"}
    )
    searched = admin_client.get("/admin/partners/partner/", {"q": "pipes"})

    assert list(filtered.context["cl"].result_list) == [target]
    assert list(searched.context["cl"].result_list) == [target]


@pytest.mark.django_db
@pytest.mark.parametrize("availability", ["available", "full", "blocked"])
def test_slot_changelist_filters_by_availability(admin_client, availability):
    slots = {
        "available": SlotFactory(capacity=2, booked=1),
        "full": SlotFactory(capacity=1, booked=1),
        "blocked": SlotFactory(blocked=True),
    }

    response = admin_client.get("/admin/partners/slot/", {"availability": availability})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [slots[availability]]


@pytest.mark.django_db
def test_slot_changelist_filters_by_city_and_partner(admin_client):
    slot = SlotFactory()
    SlotFactory()

    by_city = admin_client.get(
        "/admin/partners/slot/", {"partner__city__id__exact": slot.partner.city_id}
    )
    by_partner = admin_client.get("/admin/partners/slot/", {"partner__id__exact": slot.partner_id})

    assert list(by_city.context["cl"].result_list) == [slot]
    assert list(by_partner.context["cl"].result_list) == [slot]


@pytest.mark.django_db
def test_admin_bulk_blocks_slots(admin_client):
    chosen = [SlotFactory(), SlotFactory()]
    untouched = SlotFactory()

    admin_client.post(
        "/admin/partners/slot/",
        {"action": "block", "_selected_action": [s.pk for s in chosen]},
    )

    assert set(Slot.objects.filter(blocked=True)) == set(chosen)
    untouched.refresh_from_db()
    assert untouched.blocked is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/partners/city/",
        "/admin/partners/service/",
        "/admin/partners/service/add/",
        "/admin/partners/partner/",
        "/admin/partners/staff/",
        "/admin/partners/slot/",
    ],
)
def test_admin_pages_render(admin_client, url):
    PartnerFactory()
    SlotFactory()

    assert admin_client.get(url).status_code == 200


@pytest.mark.django_db
def test_slot_booked_count_is_read_only_in_the_admin(admin_client):
    slot = SlotFactory(capacity=3, booked=1)

    response = admin_client.get(f"/admin/partners/slot/{slot.pk}/change/")

    assert "booked" not in response.context["adminform"].form.fields
    assert Partner.objects.count() == 1


@pytest.mark.django_db
def test_admin_rejects_an_overlapping_or_inverted_slot(admin_client):
    existing = SlotFactory()
    form = {
        "partner": existing.partner_id,
        "start_0": city_time(existing.start + timedelta(minutes=30)).strftime("%Y-%m-%d"),
        "start_1": city_time(existing.start + timedelta(minutes=30)).strftime("%H:%M:%S"),
        "end_0": city_time(existing.end + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "end_1": city_time(existing.end + timedelta(hours=1)).strftime("%H:%M:%S"),
        "capacity": 1,
    }

    overlapping = admin_client.post("/admin/partners/slot/add/", form)
    inverted = admin_client.post(
        "/admin/partners/slot/add/", {**form, "end_0": form["start_0"], "end_1": "00:00:00"}
    )

    assert overlapping.status_code == 200
    assert overlapping.context["adminform"].form.non_field_errors()
    assert inverted.status_code == 200
    assert "end" in inverted.context["adminform"].form.errors
    assert list(Slot.objects.all()) == [existing]


@pytest.mark.django_db
def test_admin_cannot_shrink_capacity_below_booked_seats(admin_client):
    slot = SlotFactory(capacity=3, booked=2)
    form = {
        "partner": slot.partner_id,
        "start_0": city_time(slot.start).strftime("%Y-%m-%d"),
        "start_1": city_time(slot.start).strftime("%H:%M:%S"),
        "end_0": city_time(slot.end).strftime("%Y-%m-%d"),
        "end_1": city_time(slot.end).strftime("%H:%M:%S"),
        "capacity": 1,
    }

    response = admin_client.post(f"/admin/partners/slot/{slot.pk}/change/", form)

    assert "capacity" in response.context["adminform"].form.errors
    slot.refresh_from_db()
    assert slot.capacity == 3


@pytest.mark.django_db
def test_admin_slot_edit_never_overwrites_seats_booked_meanwhile(rf, admin_user):
    from django.contrib.admin.sites import site

    from partners.admin import SlotAdminForm

    slot = SlotFactory(capacity=3, booked=0)
    form = SlotAdminForm(
        data={
            "partner": slot.partner_id,
            "start": slot.start,
            "end": slot.end,
            "capacity": 5,
            "blocked": False,
        },
        instance=Slot.objects.get(pk=slot.pk),  # loaded by the admin's POST: booked == 0
    )
    assert form.is_valid(), form.errors
    edited = form.save(commit=False)
    # A booking takes two seats between the admin loading the row and saving it.
    Slot.objects.filter(pk=slot.pk).update(booked=F("booked") + 2)

    request = rf.post("/admin/partners/slot/")
    request.user = admin_user
    site._registry[Slot].save_model(request, edited, form, change=True)

    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (5, 2)


@pytest.mark.django_db
def test_admin_add_city_rejects_a_time_zone_that_is_not_iana(admin_client):
    response = admin_client.post(
        "/admin/partners/city/add/",
        {"name": "Bengaluru North", "slug": "bengaluru-north", "time_zone": "Asia/Bengaluru"},
    )

    assert response.status_code == 200  # the form again, not a redirect
    assert "time_zone" in response.context["adminform"].form.errors
    assert not City.objects.filter(slug="bengaluru-north").exists()


@pytest.mark.django_db
def test_admin_add_city_accepts_an_iana_time_zone(admin_client):
    response = admin_client.post(
        "/admin/partners/city/add/",
        {"name": "Bengaluru North", "slug": "bengaluru-north", "time_zone": "Asia/Kolkata"},
    )

    assert response.status_code == 302
    assert City.objects.get(slug="bengaluru-north").time_zone == "Asia/Kolkata"


@pytest.mark.django_db
def test_admin_cannot_move_a_slot_that_has_bookings(admin_client):
    slot = SlotFactory()
    BookingFactory(slot=slot)
    later = city_time(slot.start + timedelta(days=1))
    form = {
        "partner": slot.partner_id,
        "start_0": later.strftime("%Y-%m-%d"),
        "start_1": later.strftime("%H:%M:%S"),
        "end_0": (later + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "end_1": (later + timedelta(hours=1)).strftime("%H:%M:%S"),
        "capacity": 1,
    }

    response = admin_client.post(f"/admin/partners/slot/{slot.pk}/change/", form)

    assert response.status_code == 200
    assert "has bookings" in str(response.context["adminform"].form.non_field_errors())
    moved = type(slot).objects.get(pk=slot.pk)
    assert moved.start == slot.start


@pytest.mark.django_db
def test_partners_slots_and_outbox_offer_no_bulk_delete(admin_client):
    from notifications.models import OutboxMessage

    slot = SlotFactory()
    message = OutboxMessage.objects.create(
        channel="email",
        kind="note",
        recipient="a@example.com",
        body="hi",
        available_at=timezone.now(),
    )
    for url, pk in (
        ("/admin/partners/partner/", slot.partner_id),
        ("/admin/partners/slot/", slot.pk),
        ("/admin/notifications/outboxmessage/", message.pk),
    ):
        listing = admin_client.get(url)
        assert listing.status_code == 200
        assert 'value="delete_selected"' not in listing.content.decode()
        refused = admin_client.post(
            url, {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
        )
        assert refused.status_code in (200, 302)
    assert Partner.objects.filter(pk=slot.partner_id).exists()
    assert Slot.objects.filter(pk=slot.pk).exists()
    assert OutboxMessage.objects.filter(pk=message.pk).exists()
    # The actions that are meant for them stay.
    assert 'value="block"' in admin_client.get("/admin/partners/slot/").content.decode()
    assert 'value="verify"' in admin_client.get("/admin/partners/partner/").content.decode()


@pytest.mark.django_db
def test_partners_service_filter_has_no_empty_choice(admin_client):
    partner = PartnerFactory()
    variant = ServiceVariantFactory()
    offer(partner, variant)

    listing = admin_client.get("/admin/partners/partner/")

    content = listing.content.decode()
    assert f"offerings__variant__service__id__exact={variant.service_id}" in content
    assert "__isnull" not in content


def _variant_form(variant, **changes) -> dict:
    row = {
        "variants-0-id": variant.pk,
        "variants-0-service": variant.service_id,
        "variants-0-name": variant.name,
        "variants-0-tier": variant.tier,
        "variants-0-price": "499.00",
        "variants-0-currency": variant.currency,
        "variants-0-duration_minutes": variant.duration_minutes,
        "variants-0-active": "on",
        **{f"variants-0-{name}": value for name, value in changes.items()},
    }
    return {
        "name": variant.service.name,
        "slug": variant.service.slug,
        "active": "on",
        "variants-TOTAL_FORMS": 1,
        "variants-INITIAL_FORMS": 1,
        "variants-MIN_NUM_FORMS": 0,
        "variants-MAX_NUM_FORMS": 1000,
        **row,
    }


@pytest.mark.django_db
def test_variant_prices_are_shown_and_typed_in_major_units(admin_client):
    from tests.factories.partners import ServiceVariantFactory

    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    url = f"/admin/partners/service/{variant.service_id}/change/"
    assert 'value="499.00"' in admin_client.get(url).content.decode()

    saved = admin_client.post(url, _variant_form(variant, price="650.50"))
    assert saved.status_code == 302
    variant.refresh_from_db()
    assert variant.price_minor == 65050

    refused = admin_client.post(url, _variant_form(variant, price="650.505"))
    assert refused.status_code == 200
    assert "at most 2 decimal" in refused.content.decode()
    yen = admin_client.post(url, _variant_form(variant, price="1500.5", currency="JPY"))
    assert "no decimals" in yen.content.decode()
    variant.refresh_from_db()
    assert (variant.price_minor, variant.currency) == (65050, "INR")
    admin_client.post(url, _variant_form(variant, price="1500", currency="JPY"))
    variant.refresh_from_db()
    assert (variant.price_minor, variant.currency) == (1500, "JPY")
