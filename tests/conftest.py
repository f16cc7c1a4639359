from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories.partners import (
    CityFactory,
    PartnerFactory,
    ServiceFactory,
    ServiceVariantFactory,
    SlotFactory,
)


@pytest.fixture
def city(db):
    return CityFactory(slug="bengaluru", name="Bengaluru", time_zone="Asia/Kolkata")


@pytest.fixture
def service(db):
    return ServiceFactory(slug="home-cleaning", name="Home cleaning")


@pytest.fixture
def variant(service):
    return ServiceVariantFactory(service=service, price_minor=49900, currency="INR")


@pytest.fixture
def partner(city, service, variant):
    # Offers the service's variants (``variant`` at its list price).
    return PartnerFactory(city=city, services=[service])


@pytest.fixture
def make_slot(partner):
    """``make_slot(capacity=1, hours=48, **fields)``: a slot of ``partner`` in ``hours``."""

    def make(*, capacity: int = 1, hours: float = 48, **fields):
        start = (timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)
        fields.setdefault("partner", partner)
        fields.setdefault("end", start + timedelta(hours=1))
        return SlotFactory(start=start, capacity=capacity, **fields)

    return make


@pytest.fixture
def slot(make_slot):
    return make_slot()
