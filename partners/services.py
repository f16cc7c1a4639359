"""Partner-catalog operations: slot inventory, staff, partner verification."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, prefetch_related_objects
from django.utils import timezone

from common.constraints import violated_exclusion
from common.locking import lock
from partners.errors import InvalidSlotWindow, SlotNotFound, SlotOverlap, StaffNotFound
from partners.models import STANDARD_SEAT_TYPE, Partner, Slot, SlotSeatType, Staff


@dataclass(frozen=True)
class SeatTypeSpec:
    code: str
    capacity: int
    label: str = ""
    price_minor: int | None = None


@dataclass(frozen=True)
class SlotSpec:
    start: datetime
    end: datetime
    capacity: int = 1
    # Empty: one ``standard`` seat type holding ``capacity``; else the slot's capacity is
    # the sum of theirs.
    seat_types: tuple[SeatTypeSpec, ...] = ()

    def seat_type_specs(self) -> tuple[SeatTypeSpec, ...]:
        return self.seat_types or (SeatTypeSpec(STANDARD_SEAT_TYPE, self.capacity, "Standard"),)

    @property
    def total_capacity(self) -> int:
        return sum(seat.capacity for seat in self.seat_type_specs())


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    # Half-open intervals: a slot ending at 10:00 does not overlap one starting at 10:00.
    return a_start < b_end and b_start < a_end


def _check_windows(specs: Sequence[SlotSpec]) -> None:
    now = timezone.now()
    days = settings.SLOT_MAX_DAYS_AHEAD
    horizon = now + timedelta(days=days)
    errors = {}
    for index, spec in enumerate(specs):
        if spec.end <= spec.start:
            errors[str(index)] = {"end": ["Must be after start."]}
        elif spec.start <= now:
            errors[str(index)] = {"start": ["Must be in the future."]}
        elif spec.start > horizon:
            errors[str(index)] = {"start": [f"Must be at most {days} days ahead."]}
        elif spec.end > horizon:
            errors[str(index)] = {"end": [f"Must be at most {days} days ahead."]}
        elif spec.total_capacity < 1 or any(s.capacity < 1 for s in spec.seat_type_specs()):
            errors[str(index)] = {"capacity": ["Must be at least 1."]}
        elif len({seat.code for seat in spec.seat_type_specs()}) != len(spec.seat_type_specs()):
            errors[str(index)] = {"seat_types": ["Seat type codes must be unique."]}
    if errors:
        raise InvalidSlotWindow("Some slots have an invalid time window.", errors={"slots": errors})


def _overlaps_among(specs: Sequence[SlotSpec]) -> list[dict]:
    order = sorted(range(len(specs)), key=lambda i: specs[i].start)
    conflicts = []
    for previous, current in zip(order, order[1:], strict=False):
        if specs[current].start < specs[previous].end:
            conflicts.append({"index": current, "overlaps_index": previous})
    return conflicts


def _conflicts_with_existing(
    *, partner_id: int, specs: Sequence[SlotSpec], exclude_ids: Iterable[int] = ()
) -> list[dict]:
    window = reduce(or_, (Q(start__lt=spec.end, end__gt=spec.start) for spec in specs))
    existing = list(
        Slot.objects.filter(window, partner_id=partner_id)
        .exclude(pk__in=list(exclude_ids))
        .values("id", "start", "end")
    )
    return [
        {"index": index, "slot_id": slot["id"]}
        for index, spec in enumerate(specs)
        for slot in existing
        if _overlaps(spec.start, spec.end, slot["start"], slot["end"])
    ]


@transaction.atomic
def create_slots(*, partner_id: int, specs: Sequence[SlotSpec]) -> list[Slot]:
    """Create all ``specs`` as slots of the partner, or none of them, each with its seat
    types (one ``standard`` type holding the capacity when none is given).

    Guarantees: atomic; every slot ends after it starts, starts in the future and ends at
    most ``SLOT_MAX_DAYS_AHEAD`` days from now (``InvalidSlotWindow``, 400); no two of the
    partner's slots overlap, neither within the request nor with existing slots
    (``SlotOverlap``, 409). The database enforces the last rule (exclusion constraint
    ``slot_no_overlap``), so concurrent creates for one partner cannot race into an
    overlap; the error lists the slots it overlaps. The partner row is locked first:
    two transactions writing conflicting rows of an exclusion constraint wait for each
    other and one dies of a deadlock, so concurrent creates of one partner queue instead.
    """
    if not specs:
        return []
    _check_windows(specs)
    among = _overlaps_among(specs)
    if among:
        raise SlotOverlap("Slots in the request overlap each other.", errors={"slots": among})
    (city_id,) = lock(Partner.objects.filter(pk=partner_id)).values_list("city_id").get()
    try:
        with transaction.atomic():  # savepoint: the violation must not poison the caller
            created = Slot.objects.bulk_create(
                Slot(
                    partner_id=partner_id,
                    city_id=city_id,  # copied for the assignment's index (Slot.city)
                    start=spec.start,
                    end=spec.end,
                    capacity=spec.total_capacity,
                )
                for spec in specs
            )
            SlotSeatType.objects.bulk_create(
                SlotSeatType(
                    slot=slot,
                    code=seat.code,
                    label=seat.label,
                    capacity=seat.capacity,
                    price_minor=seat.price_minor,
                )
                for slot, spec in zip(created, specs, strict=True)
                for seat in spec.seat_type_specs()
            )
            prefetch_related_objects(created, "seat_types")  # for the 201, one query
            if connection.vendor != "postgresql":
                # No exclusion constraint without PostgreSQL (the embedded SQLite default,
                # whose writers are serialised): the same rule as a query.
                conflicts = _conflicts_with_existing(
                    partner_id=partner_id, specs=specs, exclude_ids=[s.pk for s in created]
                )
                if conflicts:
                    raise SlotOverlap(
                        "Slots overlap slots the partner already has.",
                        errors={"slots": conflicts},
                    )
    except IntegrityError as exc:
        if violated_exclusion(exc) != "slot_no_overlap":
            raise
        raise SlotOverlap(
            "Slots overlap slots the partner already has.",
            errors={"slots": _conflicts_with_existing(partner_id=partner_id, specs=specs)},
        ) from None
    return created


def _set_blocked(*, partner_id: int, slot_id: int, blocked: bool) -> Slot:
    updated = Slot.objects.filter(pk=slot_id, partner_id=partner_id).update(blocked=blocked)
    if not updated:
        raise SlotNotFound("No such slot.")
    return Slot.objects.get(pk=slot_id)


@transaction.atomic
def block_slot(*, partner_id: int, slot_id: int) -> Slot:
    """Stop new bookings of one of the partner's slots (existing bookings stay).

    Idempotent. Another partner's slot is ``SlotNotFound`` (404).
    """
    return _set_blocked(partner_id=partner_id, slot_id=slot_id, blocked=True)


@transaction.atomic
def unblock_slot(*, partner_id: int, slot_id: int) -> Slot:
    """Open a blocked slot for bookings again. Idempotent; another partner's slot is a 404."""
    return _set_blocked(partner_id=partner_id, slot_id=slot_id, blocked=False)


@transaction.atomic
def block_slots(*, slot_ids: Iterable[int]) -> int:
    """Support action: block many slots at once; returns how many were newly blocked."""
    return Slot.objects.filter(pk__in=list(slot_ids), blocked=False).update(blocked=True)


@transaction.atomic
def create_staff(*, partner_id: int, name: str, phone: str = "", email: str = "") -> Staff:
    """Add an active service person to the partner."""
    return Staff.objects.create(partner_id=partner_id, name=name, phone=phone, email=email)


@transaction.atomic
def update_staff(*, partner_id: int, staff_id: int, **changes: object) -> Staff:
    """Change a staff member's name, phone, email or active flag.

    Another partner's staff member is ``StaffNotFound`` (404). Only the given fields change;
    no fields is a no-op that still checks ownership.
    """
    allowed = {"name", "phone", "email", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    mine = Staff.objects.filter(pk=staff_id, partner_id=partner_id)
    # An UPDATE with no fields runs no SQL and reports 0 rows, so existence is checked apart.
    if not (mine.update(**changes) if changes else mine.exists()):
        raise StaffNotFound("No such staff member.")
    return Staff.objects.get(pk=staff_id)


@transaction.atomic
def verify_partners(*, partner_ids: Iterable[int]) -> int:
    """Support action: mark partners verified (listed to customers when also active)."""
    return Partner.objects.filter(pk__in=list(partner_ids), verified=False).update(verified=True)


@transaction.atomic
def deactivate_partners(*, partner_ids: Iterable[int]) -> int:
    """Support action: hide partners from customers and from assignment."""
    return Partner.objects.filter(pk__in=list(partner_ids), active=True).update(active=False)
