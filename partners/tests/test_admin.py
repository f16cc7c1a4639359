import pytest

from partners.factories import CityFactory, PartnerFactory, SlotFactory
from partners.models import Partner, Slot


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
