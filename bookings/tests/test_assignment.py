"""Partner assignment: the documented ranking on a crafted data set."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.factories import BookingFactory
from bookings.models import BookingStatus
from bookings.selectors import best_assignment
from partners.factories import (
    CityFactory,
    PartnerFactory,
    ServiceFactory,
    ServiceVariantFactory,
    SlotFactory,
)


@pytest.fixture
def day():
    """A UTC midnight three days ahead (all slots below are in the future)."""
    return datetime.combine(
        (timezone.now() + timedelta(days=3)).date(), datetime.min.time(), tzinfo=UTC
    )


def _slot(partner, start, **fields):
    fields.setdefault("end", start + timedelta(hours=1))
    return SlotFactory(partner=partner, start=start, **fields)


@pytest.mark.django_db
def test_ignores_ineligible_partners_and_slots_and_prefers_the_earliest_start(city, service, day):
    early, late = day + timedelta(hours=5), day + timedelta(hours=6)
    other_city = CityFactory(slug="mumbai")
    other_service = ServiceFactory(slug="plumbing")
    # Each of these would win on time if it were eligible.
    _slot(PartnerFactory(city=city, services=[service], active=False), early)
    _slot(PartnerFactory(city=city, services=[service], verified=False), early)
    _slot(PartnerFactory(city=other_city, services=[service], rating="5.00"), early)
    _slot(PartnerFactory(city=city, services=[other_service], rating="5.00"), early)
    eligible = PartnerFactory(city=city, services=[service], rating="3.00")
    _slot(eligible, early, capacity=2, booked=2)  # full
    _slot(eligible, early, blocked=True)
    _slot(eligible, timezone.now() - timedelta(hours=1))  # in the past
    expected = _slot(eligible, late, capacity=3, booked=2)
    _slot(PartnerFactory(city=city, services=[service], rating="5.00"), late + timedelta(hours=1))

    chosen = best_assignment(city=city, service=service)

    assert chosen == expected
    assert chosen.partner == eligible


@pytest.mark.django_db
def test_same_start_is_won_by_the_higher_rating(city, service, day):
    start = day + timedelta(hours=5)
    _slot(PartnerFactory(city=city, services=[service], rating="4.10"), start)
    best = _slot(PartnerFactory(city=city, services=[service], rating="4.90"), start)
    _slot(PartnerFactory(city=city, services=[service], rating="4.50"), start)

    assert best_assignment(city=city, service=service) == best


@pytest.mark.django_db
def test_equal_rating_is_won_by_fewer_bookings_that_day_in_the_city_time_zone(city, service, day):
    # Bengaluru is UTC+05:30. The candidate slots start at 04:30 UTC = 10:00 local.
    start = day + timedelta(hours=4, minutes=30)
    variant = ServiceVariantFactory(service=service)
    first = PartnerFactory(city=city, services=[service], rating="4.50")
    second = PartnerFactory(city=city, services=[service], rating="4.50")
    # first: its other booking is at 20:00 UTC the same UTC day, which is 01:30 local the
    # NEXT day, so it does not count. second: 20:00 UTC the day before is 01:30 local the
    # SAME day, so it counts. A UTC-day count would pick `second` instead.
    BookingFactory(slot=_slot(first, day + timedelta(hours=20)), variant=variant)
    BookingFactory(slot=_slot(second, day - timedelta(hours=4)), variant=variant)
    # Bookings that hold no seats do not count either.
    BookingFactory(
        slot=_slot(first, day + timedelta(hours=8)),
        variant=variant,
        status=BookingStatus.EXPIRED,
    )
    expected = _slot(first, start)
    _slot(second, start)

    chosen = best_assignment(city=city, service=service)

    assert chosen == expected
    assert chosen.day_bookings == 0


@pytest.mark.django_db
def test_fewer_bookings_beat_a_lower_partner_id(city, service, day):
    start = day + timedelta(hours=9)
    variant = ServiceVariantFactory(service=service)
    busy = PartnerFactory(city=city, services=[service], rating="4.50")
    idle = PartnerFactory(city=city, services=[service], rating="4.50")
    BookingFactory(slot=_slot(busy, start - timedelta(hours=2)), variant=variant)
    _slot(busy, start)
    expected = _slot(idle, start)

    chosen = best_assignment(city=city, service=service)

    assert chosen == expected
    assert chosen.day_bookings == 0


@pytest.mark.django_db
def test_full_tie_is_won_by_the_lowest_partner_id(city, service, day):
    start = day + timedelta(hours=9)
    partners = [PartnerFactory(city=city, services=[service], rating="4.00") for _ in range(3)]
    slots = [_slot(partner, start) for partner in reversed(partners)]

    assert best_assignment(city=city, service=service) == slots[-1]


@pytest.mark.django_db
def test_window_narrows_the_choice(city, service, day):
    partner = PartnerFactory(city=city, services=[service])
    first = _slot(partner, day + timedelta(hours=5))
    later = _slot(partner, day + timedelta(hours=7))
    last = _slot(partner, day + timedelta(hours=9))

    def best(**window):
        return best_assignment(city=city, service=service, **window)

    assert best() == first
    assert best(start_from=later.start) == later
    assert best(start_from=later.start + timedelta(minutes=1)) == last
    assert best(start_to=first.start) == first
    assert best(start_from=first.start + timedelta(minutes=1), start_to=later.start) == later
    assert best(start_from=last.start + timedelta(minutes=1)) is None
    assert best(start_to=first.start - timedelta(minutes=1)) is None


@pytest.mark.django_db
def test_assignment_is_one_sql_query(city, service, day):
    for rating in ("4.00", "4.50", "5.00"):
        _slot(PartnerFactory(city=city, services=[service], rating=rating), day)

    with CaptureQueriesContext(connection) as queries:
        chosen = best_assignment(city=city, service=service)
        assert chosen.partner.rating is not None  # partner came with the same query

    assert len(queries) == 1
