"""Read queries of the booking domain: partner assignment and booking listings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

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

from bookings.models import SEAT_HOLDING_STATUSES, Booking, BookingEvent
from partners.models import City, Partner, Service, ServiceVariant, Slot

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

    Eligible partner: active, verified, in ``city``, offers ``service`` (every active
    variant of an offered service is bookable; the API validates that ``variant``
    belongs to the service). Fitting slot: not blocked, at least one free seat, starts
    after ``now`` and within [``start_from``, ``start_to``] (inclusive), and long enough
    for the job: ``end - start`` is at least ``variant.duration_minutes``, or without a
    variant at least the duration of the service's shortest active variant (so the slot
    can be booked with some variant; :func:`_required_length`).

    Ranking, deterministic:

    1. earliest slot start;
    2. partner rating, highest first;
    3. fewest seat-holding bookings of the partner on that slot's day, the day taken in
       the city's time zone (``City.time_zone``);
    4. partner id, then slot id (lowest first).

    Each slot row carries ``day_bookings`` (rank 3). The filters repeat the predicate of
    the partial index ``slot_open_city_start_idx`` (city, start, partner) WHERE NOT
    blocked AND booked < capacity, and filter on the slot's own copy of the partner's
    city, so PostgreSQL walks the open slots of this one city in start order and stops at
    the first group of equal starts; the day count is a correlated subquery over
    ``slot_partner_start_idx`` and the booking's slot index, evaluated for that group only.
    """
    now = now or timezone.now()
    tz = ZoneInfo(city.time_zone)
    offers_service = Exists(
        Partner.services.through.objects.filter(
            partner_id=OuterRef("partner_id"), service_id=service.pk
        )
    )
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
        offers_service,
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
        )
        .filter(front_rank=1)
        .order_by("start", "-partner__rating", "day_bookings", "partner_id", "pk")
    )


def best_assignment(**kwargs) -> Slot | None:
    """The best partner's slot per :func:`assignment_candidates`, in one SQL query."""
    return assignment_candidates(**kwargs).first()


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


def _with_payment(queryset: QuerySet[Booking]) -> QuerySet[Booking]:
    return queryset.select_related("slot", "partner", "partner__city", "payment")


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
    return _with_payment(Booking.objects.filter(customer=customer))


def partner_bookings(*, partner: Partner) -> QuerySet[Booking]:
    return _with_payment(Booking.objects.filter(partner=partner)).select_related(
        "customer", "assigned_staff"
    )


def booking_detail(*, queryset: QuerySet[Booking], booking_id: int) -> Booking | None:
    """One booking of ``queryset`` with its timeline prefetched, or None."""
    events = Prefetch("events", queryset=BookingEvent.objects.select_related("actor"))
    return queryset.prefetch_related(events).filter(pk=booking_id).first()
