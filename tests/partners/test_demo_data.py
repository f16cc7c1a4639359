import io
from datetime import timedelta

import pytest
from django.core.management import call_command

from accounts.models import Role, User
from partners.models import City, Partner, PartnerOffering, Service, ServiceVariant, Slot, Staff


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (User, City, Service, ServiceVariant, Partner, Staff, Slot)
    }


@pytest.mark.django_db
def test_demo_data_loads_twice_without_duplicates():
    out = io.StringIO()
    call_command("load_demo_data", "--force", stdout=out)
    first = _counts()
    call_command("load_demo_data", "--force", stdout=io.StringIO())

    assert _counts() == first
    assert first["City"] >= 3
    assert first["Slot"] > 0
    assert "slotwise-demo" in out.getvalue()
    assert "support@example.com" in out.getvalue()


@pytest.mark.django_db
def test_demo_logins_work_and_the_partner_owns_a_verified_partner_with_slots_and_staff():
    call_command("load_demo_data", "--force", stdout=io.StringIO())

    customer = User.objects.get(email="customer@example.com")
    partner_user = User.objects.get(email="partner@example.com")
    support = User.objects.get(email="support@example.com")
    assert customer.role == Role.CUSTOMER
    assert support.role == Role.SUPPORT
    assert support.is_staff and not support.is_superuser
    assert list(support.groups.values_list("name", flat=True)) == ["Support"]
    for user in (customer, partner_user, support):
        assert user.check_password("slotwise-demo")
    partner = partner_user.partner
    assert partner.verified and partner.active
    assert partner.staff.exists()
    assert partner.slots.count() >= 7
    assert Slot.objects.filter(capacity__gt=1).exists()
    assert set(ServiceVariant.objects.values_list("tier", flat=True)) == {
        "basic",
        "premium",
        "express",
    }
    assert all(p > 0 for p in ServiceVariant.objects.values_list("price_minor", flat=True))


@pytest.mark.django_db
def test_every_demo_variant_fits_the_slots_of_the_partners_offering_it():
    call_command("load_demo_data", "--force", stdout=io.StringIO())

    for variant in ServiceVariant.objects.select_related("service"):
        slots = Slot.objects.filter(partner__offerings__variant=variant)
        assert slots.exists(), variant
        too_short = [
            slot
            for slot in slots
            if slot.end - slot.start < timedelta(minutes=variant.duration_minutes)
        ]
        assert too_short == [], variant


@pytest.mark.django_db
def test_demo_data_is_not_loaded_in_production_mode_without_force():
    err = io.StringIO()

    call_command("load_demo_data", stdout=io.StringIO(), stderr=err)

    assert not User.objects.exists()
    assert "--force" in err.getvalue()


@pytest.mark.django_db
def test_demo_partners_of_one_service_charge_different_prices_and_the_studio_sells_a_front_row():
    call_command("load_demo_data", "--force", stdout=io.StringIO())

    cleaning = PartnerOffering.objects.filter(
        variant__service__slug="home-cleaning", variant__tier="basic"
    )
    assert len(set(cleaning.values_list("price_minor", flat=True))) == cleaning.count() >= 2
    studio_slot = Slot.objects.filter(partner__name="Flow Yoga Studio").first()
    seats = dict(studio_slot.seat_types.values_list("code", "price_minor"))
    assert seats == {"regular": None, "front": 44900}
    assert studio_slot.capacity == 12
