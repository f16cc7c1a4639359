from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from partners.models import Slot
from tests.factories.partners import CityFactory, PartnerFactory, SlotFactory


def _violated_constraint(exc: pytest.ExceptionInfo) -> str:
    return exc.value.__cause__.diag.constraint_name


@pytest.mark.django_db
def test_database_rejects_booking_past_capacity():
    slot = SlotFactory(capacity=2, booked=2)

    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=F("capacity") + 1)

    assert _violated_constraint(exc) == "slot_booked_within_capacity"
    slot.refresh_from_db()
    assert slot.booked == 2


@pytest.mark.django_db
def test_database_rejects_negative_booked_by_the_slot_constraint_alone():
    # PositiveIntegerField adds its own CHECK (booked >= 0), which PostgreSQL evaluates
    # first (checks run in name order); drop it, inside this test's transaction only (and
    # before any slot row has deferred FK checks pending), so the assertion is about the
    # project's slot_booked_within_capacity.
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE {} DROP CONSTRAINT {}".format(
                connection.ops.quote_name(Slot._meta.db_table),
                connection.ops.quote_name(f"{Slot._meta.db_table}_booked_check"),
            )
        )
    slot = SlotFactory(capacity=2, booked=0)

    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=F("booked") - 1)

    assert _violated_constraint(exc) == "slot_booked_within_capacity"
    slot.refresh_from_db()
    assert slot.booked == 0


@pytest.mark.django_db
def test_database_rejects_a_slot_ending_before_it_starts():
    slot = SlotFactory()

    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(end=slot.start - timedelta(minutes=1))

    assert _violated_constraint(exc) == "slot_end_after_start"


@pytest.mark.django_db
def test_city_time_zone_must_be_an_iana_zone():
    city = CityFactory.build(slug="typo-town", time_zone="Asia/Bengaluru")

    with pytest.raises(ValidationError) as exc:
        city.full_clean()

    assert exc.value.error_dict["time_zone"][0].code == "invalid_time_zone"
    CityFactory.build(slug="typo-town", time_zone="Asia/Kolkata").full_clean()


@pytest.mark.django_db
def test_the_database_refuses_overlapping_slots_of_one_partner_but_not_adjacent_ones():
    slot = SlotFactory()
    with pytest.raises(IntegrityError, match="slot_no_overlap"), transaction.atomic():
        Slot.objects.create(
            partner=slot.partner,
            start=slot.start + timedelta(minutes=30),
            end=slot.end + timedelta(minutes=30),
        )
    Slot.objects.create(partner=slot.partner, start=slot.end, end=slot.end + timedelta(hours=1))
    Slot.objects.create(partner=PartnerFactory(), start=slot.start, end=slot.end)
