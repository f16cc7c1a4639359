from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from partners.factories import CityFactory, SlotFactory
from partners.models import Slot


@pytest.mark.django_db
def test_database_rejects_booking_past_capacity():
    slot = SlotFactory(capacity=2, booked=2)

    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=F("capacity") + 1)

    slot.refresh_from_db()
    assert slot.booked == 2


@pytest.mark.django_db
def test_database_rejects_negative_booked():
    slot = SlotFactory(capacity=2, booked=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=F("booked") - 1)


@pytest.mark.django_db
def test_database_rejects_a_slot_ending_before_it_starts():
    slot = SlotFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(end=slot.start - timedelta(minutes=1))


@pytest.mark.django_db
def test_city_time_zone_must_be_an_iana_zone():
    city = CityFactory.build(slug="typo-town", time_zone="Asia/Bengaluru")

    with pytest.raises(ValidationError) as exc:
        city.full_clean()

    assert exc.value.error_dict["time_zone"][0].code == "invalid_time_zone"
    CityFactory.build(slug="typo-town", time_zone="Asia/Kolkata").full_clean()
