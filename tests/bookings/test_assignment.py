"""Partner assignment: the documented ranking on a crafted data set."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings import selectors
from bookings.models import BookingStatus
from bookings.selectors import best_assignment
from partners.models import ServiceVariant
from partners.services import SlotSpec, create_slots
from tests.factories.bookings import BookingFactory
from tests.factories.partners import (
    CityFactory,
    PartnerFactory,
    ServiceFactory,
    ServiceVariantFactory,
    SlotFactory,
)


@pytest.fixture(autouse=True, params=["statement", "queryset"])
def implementation(request, monkeypatch):
    """Every case runs through both: PostgreSQL's ASSIGNMENT_SQL and the portable
    queryset (assignment_candidates) that the embedded SQLite default uses."""
    if request.param == "queryset":
        monkeypatch.setattr(selectors, "_use_statement", lambda: False)
    return request.param


@pytest.fixture(autouse=True)
def _service_is_bookable(variant):
    """The service has an active 60-minute variant, so the 1-hour slots below fit it."""
    return variant


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
    # (slots of one partner never overlap: the blocked one is another partner's)
    _slot(PartnerFactory(city=city, services=[service], rating="5.00"), early, blocked=True)
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
def test_a_higher_rating_beats_fewer_bookings_that_day(city, service, variant, day):
    # 04:30 UTC is 10:00 in Bengaluru; both other bookings are later that local day.
    start = day + timedelta(hours=4, minutes=30)
    rated = PartnerFactory(city=city, services=[service], rating="4.90")
    idle = PartnerFactory(city=city, services=[service], rating="4.00")
    BookingFactory(slot=_slot(rated, day + timedelta(hours=6)), variant=variant)
    BookingFactory(
        slot=_slot(rated, day + timedelta(hours=8)),
        variant=variant,
        status=BookingStatus.CONFIRMED,
    )
    expected = _slot(rated, start)
    _slot(idle, start)

    chosen = best_assignment(city=city, service=service)

    assert chosen == expected
    assert chosen.day_bookings == 2


@pytest.mark.django_db
def test_equal_rating_is_won_by_fewer_bookings_that_day_in_the_city_time_zone(
    city, service, variant, day
):
    # Bengaluru is UTC+05:30. The candidate slots start at 04:30 UTC = 10:00 local.
    start = day + timedelta(hours=4, minutes=30)
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
def test_fewer_bookings_beat_a_lower_partner_id(city, service, variant, day):
    start = day + timedelta(hours=9)
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
@pytest.mark.parametrize("with_variant", [False, True])
def test_assignment_is_one_sql_query(city, service, variant, day, with_variant):
    for rating in ("4.00", "4.50", "5.00"):
        _slot(PartnerFactory(city=city, services=[service], rating=rating), day)

    with CaptureQueriesContext(connection) as queries:
        chosen = best_assignment(
            city=city, service=service, variant=variant if with_variant else None
        )
        assert chosen.partner.rating is not None  # partner came with the same query

    assert len(queries) == 1


# --- variant duration -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_variant_only_gets_slots_at_least_as_long_as_it_takes(city, service, variant, day):
    premium = ServiceVariantFactory(
        service=service, tier=ServiceVariant.Tier.PREMIUM, duration_minutes=180
    )
    star = PartnerFactory(city=city, services=[service], rating="5.00")
    other = PartnerFactory(city=city, services=[service], rating="3.00")
    hour = _slot(star, day + timedelta(hours=4))
    _slot(other, day + timedelta(hours=5), end=day + timedelta(hours=7, minutes=59))  # 179 min
    exactly = _slot(other, day + timedelta(hours=8), end=day + timedelta(hours=11))
    _slot(star, day + timedelta(hours=9), end=day + timedelta(hours=13))  # fits, but later

    assert best_assignment(city=city, service=service, variant=premium) == exactly
    assert best_assignment(city=city, service=service, variant=variant) == hour
    premium.duration_minutes = 600
    premium.save()
    assert best_assignment(city=city, service=service, variant=premium) is None


@pytest.mark.django_db
def test_without_a_variant_the_slot_must_fit_the_service_shortest_active_variant(
    city, service, variant, day
):
    # variant (60 min) is deactivated: the shortest active one now takes 90 minutes.
    variant.active = False
    variant.save()
    ServiceVariantFactory(service=service, tier=ServiceVariant.Tier.EXPRESS, duration_minutes=90)
    ServiceVariantFactory(service=service, tier=ServiceVariant.Tier.PREMIUM, duration_minutes=180)
    partner = PartnerFactory(city=city, services=[service])
    _slot(partner, day + timedelta(hours=4))  # 60 min: no variant fits
    expected = _slot(partner, day + timedelta(hours=6), end=day + timedelta(hours=7, minutes=30))

    assert best_assignment(city=city, service=service) == expected


@pytest.mark.django_db
def test_a_service_without_an_active_variant_has_no_assignment(city, service, variant, day):
    _slot(PartnerFactory(city=city, services=[service]), day + timedelta(hours=4))
    variant.active = False
    variant.save()

    assert best_assignment(city=city, service=service) is None


@pytest.mark.django_db
def test_a_partner_that_moves_city_is_assigned_in_its_new_city_only(city, service, day):
    # Slots carry a copy of their partner's city (the assignment index is by city).
    mumbai = CityFactory(slug="mumbai", time_zone="Asia/Kolkata")
    mover = PartnerFactory(city=city, services=[service])
    slot = _slot(mover, day + timedelta(hours=5))
    assert best_assignment(city=city, service=service) == slot

    mover.city = mumbai
    mover.save()

    assert best_assignment(city=city, service=service) is None
    assert best_assignment(city=mumbai, service=service) == slot


@pytest.mark.django_db
def test_slots_created_by_the_partner_api_carry_the_partner_city(city, service, day):
    partner = PartnerFactory(city=city, services=[service])
    start = day + timedelta(hours=5)
    (created,) = create_slots(
        partner_id=partner.pk, specs=[SlotSpec(start, start + timedelta(hours=1), 1)]
    )

    created.refresh_from_db()
    assert created.city_id == city.pk
    assert best_assignment(city=city, service=service) == created


# --- the embedded SQLite default ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("with_variant", [False, True])
def test_the_queryset_runs_on_sqlite(city, service, variant, with_variant):
    """The embedded default (``make run``) assigns with the queryset on SQLite, which the
    suite never runs on: the query is compiled for SQLite and run on an in-memory database
    with the tables it reads. SQLite refuses duration arithmetic on a PositiveIntegerField
    and a reference to the outer query in a subquery's ORDER BY (both were 503s)."""
    from django.db.backends.sqlite3.base import DatabaseWrapper
    from django.db.utils import ConnectionHandler

    from bookings.models import Booking
    from partners.models import City, Partner, PartnerOffering, Service, Slot

    sqlite = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )["default"]
    assert isinstance(sqlite, DatabaseWrapper)
    try:
        with sqlite.schema_editor() as editor:
            for model in (City, Service, ServiceVariant, Partner, PartnerOffering, Slot, Booking):
                editor.create_model(model)
        query = selectors.assignment_candidates(
            city=city, service=service, variant=variant if with_variant else None
        ).query
        sql, params = query.get_compiler(connection=sqlite).as_sql()
        with sqlite.cursor() as cursor:
            cursor.execute(sql, params)
            assert cursor.fetchall() == []
    finally:
        sqlite.close()
