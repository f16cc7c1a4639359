"""Migrating a live database: what existed before keeps working after the migration."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE_OFFERINGS = [("partners", "0004_slot_city")]


def _migrate(targets):
    """Migrate to ``targets``; the models of every app as the database now is."""
    MigrationExecutor(connection).migrate(targets)
    executor = MigrationExecutor(connection)  # a fresh loader sees what is applied now
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.fixture
def back_at_the_end():
    # Whatever the test does, the database ends at the latest migrations (for the flush).
    yield
    _migrate(_latest())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_at_the_end")
def test_partners_get_offerings_of_what_they_served_and_slots_a_standard_seat_type():
    old = _migrate(BEFORE_OFFERINGS)
    City, Service = old.get_model("partners", "City"), old.get_model("partners", "Service")
    Variant, Partner = (
        old.get_model("partners", "ServiceVariant"),
        old.get_model("partners", "Partner"),
    )
    city = City.objects.create(name="Pune", slug="pune", time_zone="Asia/Kolkata")
    cleaning = Service.objects.create(name="Cleaning", slug="cleaning")
    yoga = Service.objects.create(name="Yoga", slug="yoga")
    basic = Variant.objects.create(service=cleaning, name="Basic", tier="basic", price_minor=49900)
    deep = Variant.objects.create(
        service=cleaning, name="Deep", tier="premium", price_minor=89900, currency="USD"
    )
    Variant.objects.create(service=yoga, name="Class", tier="basic", price_minor=30000)
    cleaner = Partner.objects.create(name="Cleaner", city=city)
    cleaner.services.add(cleaning)
    Partner.objects.create(name="Idle", city=city)
    start = timezone.now() + timedelta(days=2)
    slot = old.get_model("partners", "Slot").objects.create(
        partner=cleaner,
        city=city,
        start=start,
        end=start + timedelta(hours=2),
        capacity=3,
        booked=2,
    )
    customer = old.get_model("accounts", "User").objects.create(email="c@example.test")
    booking = old.get_model("bookings", "Booking").objects.create(
        customer=customer,
        slot=slot,
        slot_start=slot.start,
        slot_end=slot.end,
        partner=cleaner,
        variant=basic,
        quantity=2,
        amount_minor=99800,
        currency="INR",
    )

    new = _migrate(_latest())

    Offering = new.get_model("partners", "PartnerOffering")
    assert set(
        Offering.objects.values_list(
            "partner_id", "variant_id", "price_minor", "currency", "active"
        )
    ) == {
        (cleaner.pk, basic.pk, 49900, "INR", True),
        (cleaner.pk, deep.pk, 89900, "USD", True),
    }
    # Every slot holds its seats as one standard seat type; its bookings are of that type.
    seat_types = new.get_model("partners", "SlotSeatType").objects.filter(slot_id=slot.pk)
    assert list(seat_types.values_list("code", "capacity", "booked")) == [("standard", 3, 2)]
    moved = new.get_model("bookings", "Booking").objects.get(pk=booking.pk)
    assert (moved.seat_type, moved.amount_minor) == ("standard", 99800)
