"""Read queries of the booking domain: partner assignment and booking listings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Rank, TruncDate
from django.utils import timezone

from bookings.extensions import extra_related
from bookings.models import SEAT_HOLDING_STATUSES, Booking, BookingEvent
from partners.models import City, Partner, PartnerOffering, Service, ServiceVariant, Slot
from partners.selectors import bookable_offerings

ONE_DAY = timedelta(days=1)


def _shifted(field: str, delta: timedelta) -> ExpressionWrapper:
    return ExpressionWrapper(OuterRef(field) + delta, output_field=DateTimeField())


def _required_length(*, service: Service, variant: ServiceVariant | None):
    """The shortest slot (``end - start``) that can hold the job, as an SQL interval.

    With a variant: its ``duration_minutes``. Without one: the duration of the service's
    shortest active variant (a scalar subquery, evaluated once), because a slot shorter
    than every variant could not be booked at all; a service with no active variant
    yields NULL, so no slot fits.
    """
    if variant is not None:
        return Value(timedelta(minutes=variant.duration_minutes), output_field=DurationField())
    shortest = (
        ServiceVariant.objects.filter(service_id=service.pk, active=True)
        .order_by("duration_minutes")
        .values("duration_minutes")[:1]
    )
    return ExpressionWrapper(
        Subquery(shortest, output_field=IntegerField())
        * Value(timedelta(minutes=1), output_field=DurationField()),
        output_field=DurationField(),
    )


def _offering_partner(*, service: Service, variant: ServiceVariant | None) -> Exists:
    """The outer slot's partner has an active offering of ``variant`` (else of ``service``):
    one probe of an offering index per slot walked."""
    offers = PartnerOffering.objects.filter(
        partner_id=OuterRef("partner_id"), service_id=service.pk, active=True
    )
    if variant is not None:
        offers = offers.filter(variant_id=variant.pk)
    return Exists(offers)


def _price_offers(*, service: Service, variant: ServiceVariant | None) -> tuple[QuerySet, QuerySet]:
    """The partner's bookable offerings of the job, cheapest first: those that fit the
    outer slot, and all of them (the fallback when none fits).

    Two querysets rather than one ordered by "fits": SQLite refuses a reference to the
    outer query in a subquery's ORDER BY ("no such column"), and the embedded default
    runs this queryset; in WHERE it is fine everywhere.
    """
    offers = bookable_offerings().filter(partner_id=OuterRef("partner_id"), service_id=service.pk)
    if variant is not None:
        offers = offers.filter(variant_id=variant.pk)
    offers = offers.order_by("price_minor", "variant_id")
    fitting = offers.alias(
        # The column is a PositiveIntegerField, which SQLite's duration arithmetic
        # refuses ("Invalid arguments for operator *"): typed as a plain integer.
        needs=ExpressionWrapper(
            ExpressionWrapper(F("variant__duration_minutes"), output_field=IntegerField())
            * Value(timedelta(minutes=1), output_field=DurationField()),
            output_field=DurationField(),
        )
    ).filter(needs__lte=OuterRef("length"))
    return fitting, offers


def _best_offer(fitting: QuerySet, offers: QuerySet, field: str) -> Coalesce:
    """``field`` of the cheapest fitting offering, else of the cheapest one (the columns
    are never NULL, so the three fields always come from the same row)."""
    return Coalesce(Subquery(fitting.values(field)[:1]), Subquery(offers.values(field)[:1]))


def assignment_candidates(
    *,
    city: City,
    service: Service,
    variant: ServiceVariant | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    now: datetime | None = None,
) -> QuerySet[Slot]:
    """The front-runner open slots of eligible partners, best first (:func:`best_assignment`).

    Front-runners: the fitting slots that share the earliest start and, among those, the
    highest partner rating (ranks 1-2 below); only they can win, and only they carry the
    day count of rank 3.

    Eligible partner: active, verified, in ``city``, with an active offering of
    ``variant`` (without one: of ``service``; the API validates that ``variant`` belongs
    to the service). Fitting slot: not blocked, at least one free seat, starts after
    ``now`` and within [``start_from``, ``start_to``] (inclusive), and long enough for the
    job: ``end - start`` is at least ``variant.duration_minutes``, or without a variant at
    least the duration of the service's shortest active variant (:func:`_required_length`).

    Ranking, deterministic:

    1. earliest slot start;
    2. partner rating, highest first;
    3. fewest seat-holding bookings of the partner on that slot's day, the day taken in
       the city's time zone (``City.time_zone``);
    4. partner id, then slot id (lowest first).

    Each slot row carries ``day_bookings`` (rank 3) and the partner's price of the job:
    ``offer_variant_id``, ``offer_price_minor``, ``offer_currency`` (without a variant its
    cheapest bookable offering of the service that fits the slot). The filters repeat the
    predicate of the partial index ``slot_open_city_start_idx`` (city, start, partner) WHERE NOT
    blocked AND booked < capacity, and filter on the slot's own copy of the partner's
    city, so PostgreSQL walks the open slots of this one city in start order and stops at
    the first group of equal starts; the day count is a correlated subquery over
    ``slot_partner_start_idx`` and the booking's slot index, evaluated for that group only.
    """
    now = now or timezone.now()
    tz = ZoneInfo(city.time_zone)
    fitting, offers = _price_offers(service=service, variant=variant)
    # Seat-holding bookings of the same partner on the same local day. The +-1 day
    # window on start keeps the lookup an index range scan; TruncDate makes it exact.
    day_bookings = (
        Booking.objects.filter(
            slot__partner_id=OuterRef("partner_id"),
            slot__start__gt=_shifted("start", -ONE_DAY),
            slot__start__lt=_shifted("start", ONE_DAY),
            status__in=SEAT_HOLDING_STATUSES,
        )
        .annotate(local_day=TruncDate("slot__start", tzinfo=tz))
        .filter(local_day=OuterRef("local_day"))
        .order_by()
        .values("slot__partner_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    slots = Slot.objects.alias(
        length=ExpressionWrapper(F("end") - F("start"), output_field=DurationField())
    ).filter(
        _offering_partner(service=service, variant=variant),
        blocked=False,
        booked__lt=F("capacity"),
        start__gt=now,
        city_id=city.pk,
        partner__active=True,
        partner__verified=True,
        length__gte=_required_length(service=service, variant=variant),
    )
    if start_from is not None:
        slots = slots.filter(start__gte=start_from)
    if start_to is not None:
        slots = slots.filter(start__lte=start_to)
    # Rank 1: only the fitting slots sharing the earliest fitting start can win (an
    # InitPlan that walks the index until the first one). Rank 2 is a window over that
    # group: PostgreSQL (15+) stops it once the rank passes 1 (a "run condition") and
    # evaluates the select list, the day count included, above the window, so only the
    # slots tied on start and rating have their day counted (usually one, instead of every
    # open slot of the earliest start: issue 11, 38 ms -> ~1-2 ms at 1M slots).
    earliest = slots.order_by("start").values("start")[:1]
    return (
        slots.filter(start=Subquery(earliest))
        .select_related("partner")
        .annotate(
            front_rank=Window(Rank(), order_by=F("partner__rating").desc()),
            local_day=TruncDate("start", tzinfo=tz),
            day_bookings=Coalesce(Subquery(day_bookings, output_field=IntegerField()), Value(0)),
            offer_variant_id=_best_offer(fitting, offers, "variant_id"),
            offer_price_minor=_best_offer(fitting, offers, "price_minor"),
            offer_currency=_best_offer(fitting, offers, "currency"),
        )
        .filter(front_rank=1)
        .order_by("start", "-partner__rating", "day_bookings", "partner_id", "pk")
    )


# On PostgreSQL the assignment is one hand-written statement: it runs on every "find me a
# partner", and building and compiling assignment_candidates (Exists, Subquery, a window)
# costs ~8 ms of Python, more than the query itself (issue 11). Same rules; the tests run
# every ranking case through both (tests/bookings/test_assignment.py).
_ASSIGNMENT_TEMPLATE = """
WITH fitting AS NOT MATERIALIZED (  -- inlined in both uses: index walks, not a scan
    SELECT s.id, s.partner_id, s.start, p.rating
    FROM partners_slot AS s
    JOIN partners_partner AS p ON p.id = s.partner_id
    WHERE s.city_id = %(city)s
      AND NOT s.blocked AND s.booked < s.capacity
      AND s.start > %(now)s
      AND (%(start_from)s::timestamptz IS NULL OR s.start >= %(start_from)s::timestamptz)
      AND (%(start_to)s::timestamptz IS NULL OR s.start <= %(start_to)s::timestamptz)
      AND s."end" - s.start >= coalesce(
          %(minutes)s::integer,
          (SELECT v.duration_minutes FROM partners_servicevariant AS v
           WHERE v.service_id = %(service)s AND v.active
           ORDER BY v.duration_minutes LIMIT 1)
      ) * interval '1 minute'
      AND p.active AND p.verified
      -- One probe of offering_partner_service_idx (or offering_unique_variant) per slot.
      AND EXISTS (SELECT 1 FROM partners_partneroffering AS o
                  WHERE o.partner_id = s.partner_id AND o.service_id = %(service)s
                    AND o.active
                    AND (%(variant)s::bigint IS NULL OR o.variant_id = %(variant)s::bigint))
), earliest AS MATERIALIZED (
    -- Rank 1: the group of the earliest fitting start (the index walk stops there).
    SELECT id, partner_id, start, rating
    FROM fitting
    WHERE start = (SELECT start FROM fitting ORDER BY start LIMIT 1)
), best AS (
    -- Rank 2: the highest rating in it; only these slots have their day load counted.
    SELECT * FROM earliest WHERE rating = (SELECT max(rating) FROM earliest)
)
SELECT {slot_columns}, {partner_columns},
       (SELECT count(*) FROM bookings_booking AS b
        JOIN partners_slot AS u ON u.id = b.slot_id
        WHERE u.partner_id = best.partner_id
          AND u.start > best.start - interval '1 day' AND u.start < best.start + interval '1 day'
          AND b.status = ANY(%(holding)s)
          AND (u.start AT TIME ZONE %(tz)s)::date = (best.start AT TIME ZONE %(tz)s)::date
       ) AS day_bookings,
       offer.variant_id, offer.price_minor, offer.currency
FROM best
JOIN partners_slot AS s ON s.id = best.id
JOIN partners_partner AS p ON p.id = best.partner_id
-- The partner's price of the job (of the variant if given): its cheapest bookable
-- offering that fits the slot, else its cheapest one.
LEFT JOIN LATERAL (
    SELECT o.variant_id, o.price_minor, o.currency
    FROM partners_partneroffering AS o
    JOIN partners_servicevariant AS v ON v.id = o.variant_id
    WHERE o.partner_id = s.partner_id AND o.service_id = %(service)s AND o.active
      AND v.active  -- the service is active: the caller asks only for active ones
      AND (%(variant)s::bigint IS NULL OR o.variant_id = %(variant)s::bigint)
    ORDER BY v.duration_minutes * interval '1 minute' <= s."end" - s.start DESC,
             o.price_minor, o.variant_id
    LIMIT 1
) AS offer ON true
ORDER BY day_bookings, s.partner_id, s.id
LIMIT 1
"""


_SLOT_FIELDS = [f.attname for f in Slot._meta.concrete_fields]
_PARTNER_FIELDS = [f.attname for f in Partner._meta.concrete_fields]
ASSIGNMENT_SQL = _ASSIGNMENT_TEMPLATE.format(
    slot_columns=", ".join(f's."{f.column}"' for f in Slot._meta.concrete_fields),
    partner_columns=", ".join(f'p."{f.column}"' for f in Partner._meta.concrete_fields),
)


def assignment_params(  # the parameters of ASSIGNMENT_SQL
    *,
    city: City,
    service: Service,
    variant: ServiceVariant | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    now: datetime | None = None,
) -> dict:
    return {
        "city": city.pk,
        "service": service.pk,
        "minutes": variant.duration_minutes if variant is not None else None,
        "variant": variant.pk if variant is not None else None,
        "now": now or timezone.now(),
        "start_from": start_from,
        "start_to": start_to,
        "holding": [str(status) for status in SEAT_HOLDING_STATUSES],
        "tz": city.time_zone,
    }


def best_assignment(
    *,
    city: City,
    service: Service,
    variant: ServiceVariant | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    now: datetime | None = None,
) -> Slot | None:
    """The best partner's slot (rules: :func:`assignment_candidates`) with ``slot.partner``,
    ``slot.day_bookings`` and the partner's price (``offer_variant_id``,
    ``offer_price_minor``, ``offer_currency``), or None; one query.

    On PostgreSQL it runs ``ASSIGNMENT_SQL``: the walk of ``slot_open_city_start_idx``
    stops at the earliest fitting start, and of that start's slots only those of the
    highest rating have their day load counted. Elsewhere (the embedded SQLite default)
    it runs the queryset.
    """
    kwargs = {
        "city": city,
        "service": service,
        "variant": variant,
        "start_from": start_from,
        "start_to": start_to,
        "now": now,
    }
    if not _use_statement():
        return assignment_candidates(**kwargs).first()
    with connection.cursor() as cursor:
        cursor.execute(ASSIGNMENT_SQL, assignment_params(**kwargs))
        row = cursor.fetchone()
    if row is None:
        return None
    slots, partners = len(_SLOT_FIELDS), len(_PARTNER_FIELDS)
    slot = Slot.from_db(connection.alias, _SLOT_FIELDS, row[:slots])
    slot.partner = Partner.from_db(connection.alias, _PARTNER_FIELDS, row[slots : slots + partners])
    slot.day_bookings, slot.offer_variant_id, slot.offer_price_minor, slot.offer_currency = row[-4:]
    return slot


def _use_statement() -> bool:
    return connection.vendor == "postgresql"


def _local_slot_day(time_zones: Iterable[str]) -> Case:
    """The slot's start date in the time zone of the booking's partner's city (portable)."""
    return Case(
        *(
            When(
                partner__city__time_zone=name, then=TruncDate("slot__start", tzinfo=ZoneInfo(name))
            )
            for name in sorted(set(time_zones))
        ),
        default=TruncDate("slot__start", tzinfo=ZoneInfo("UTC")),
    )


def _for_display(queryset: QuerySet[Booking]) -> QuerySet[Booking]:
    # extra_related: relations higher layers render with the booking (payments' payment).
    return queryset.select_related("slot", "partner", "partner__city", *extra_related)


def filter_bookings(
    queryset: QuerySet[Booking],
    *,
    statuses: Iterable[str] | None = None,
    day: date | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
) -> QuerySet[Booking]:
    """Filter by status and by the slot's start: ``day`` is a calendar date in the city's
    time zone; ``start_from``/``start_to`` are instants (inclusive / exclusive)."""
    statuses = list(statuses or [])
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    if start_from is not None:
        queryset = queryset.filter(slot__start__gte=start_from)
    if start_to is not None:
        queryset = queryset.filter(slot__start__lt=start_to)
    if day is not None:
        # Coarse UTC window first (any time zone is within +-14 h), then the exact local day.
        lower = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo("UTC")) - ONE_DAY
        queryset = (
            queryset.filter(slot__start__gte=lower, slot__start__lt=lower + 3 * ONE_DAY)
            .annotate(local_day=_local_slot_day(City.objects.values_list("time_zone", flat=True)))
            .filter(local_day=day)
        )
    return queryset


def customer_bookings(*, customer) -> QuerySet[Booking]:
    return _for_display(Booking.objects.filter(customer=customer))


def partner_bookings(*, partner: Partner) -> QuerySet[Booking]:
    return _for_display(Booking.objects.filter(partner=partner)).select_related(
        "customer", "assigned_staff"
    )


def booking_detail(*, queryset: QuerySet[Booking], booking_id: int) -> Booking | None:
    """One booking of ``queryset`` with its timeline prefetched, or None."""
    events = Prefetch("events", queryset=BookingEvent.objects.select_related("actor"))
    return queryset.prefetch_related(events).filter(pk=booking_id).first()
