"""Slots with seat types: creation, booking a type at its price, the per-type inventory
under concurrency, releases, the waitlist per type and rescheduling."""

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from bookings.errors import SlotHasRoom, SlotUnavailable
from bookings.models import Booking, BookingStatus, WaitlistStatus
from bookings.rescheduling import reschedule_booking
from bookings.services import book_slot, expire_due_holds
from bookings.transitions import transition_booking
from bookings.waitlist.services import join_waitlist
from conftest import authed_client
from partners.models import Slot, SlotSeatType
from tests.concurrency import run_concurrently
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import SlotFactory, offer

SLOTS = "/api/v1/provider/slots"
BOOKINGS = "/api/v1/bookings"


@pytest.fixture(autouse=True, params=["one statement", "portable"])
def seat_path(request, monkeypatch):
    """Both ways of taking seats: the one PostgreSQL statement and the portable UPDATEs."""
    if request.param == "portable":
        monkeypatch.setattr("bookings.seats.one_statement_available", lambda: False)
    return request.param


def _start(hours=48):
    return (timezone.now() + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def _class_slot(partner, *, regular=10, front=2, front_price=79900, hours=48):
    start = _start(hours)
    return SlotFactory(
        partner=partner,
        start=start,
        end=start + timedelta(hours=1),
        seat_types=[("regular", regular), ("front", front, front_price)],
    )


def _seats(slot):
    return {
        seat.code: (seat.capacity, seat.booked)
        for seat in SlotSeatType.objects.filter(slot=slot).order_by("id")
    }


def _totals(slot):
    slot.refresh_from_db()
    return slot.capacity, slot.booked


# --- creating slots -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_partner_creates_a_slot_with_seat_types_and_the_totals_add_up(partner):
    start = _start(72)
    body = {
        "slots": [
            {
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "seat_types": [
                    {"code": "regular", "capacity": 10},
                    {"code": "front", "label": "Front row", "capacity": 2, "price_minor": 79900},
                ],
            },
            {
                "start": (start + timedelta(hours=2)).isoformat(),
                "end": (start + timedelta(hours=3)).isoformat(),
                "capacity": 4,
            },
        ]
    }

    response = authed_client(partner.user).post(SLOTS, body, format="json")

    assert response.status_code == 201, response.content
    grouped, plain = response.json()["slots"]
    assert (grouped["capacity"], grouped["booked"], grouped["available"]) == (12, 0, 12)
    assert grouped["seat_types"] == [
        {
            "code": "regular",
            "label": "Regular",
            "capacity": 10,
            "booked": 0,
            "available": 10,
            "price_minor": None,
        },
        {
            "code": "front",
            "label": "Front row",
            "capacity": 2,
            "booked": 0,
            "available": 2,
            "price_minor": 79900,
        },
    ]
    assert [seat["code"] for seat in plain["seat_types"]] == ["standard"]
    assert plain["seat_types"][0]["capacity"] == plain["capacity"] == 4
    assert _seats(Slot.objects.get(pk=grouped["id"])) == {"regular": (10, 0), "front": (2, 0)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "seat_types",
    [
        [{"code": "a", "capacity": 1}, {"code": "a", "capacity": 2}],
        [{"code": "front row", "capacity": 1}],
        [{"code": "vip", "capacity": 0}],
        [{"code": "vip", "capacity": 1, "price_minor": 0}],
        [{"code": "vip", "capacity": 1, "price_minor": 10_000_001}],
        [{"code": "a", "capacity": 6000}, {"code": "b", "capacity": 6000}],
        [],
        "regular",
    ],
)
def test_invalid_seat_types_are_a_400_and_create_nothing(partner, seat_types, settings):
    settings.OFFERING_MAX_PRICE_MINOR = 10_000_000
    start = _start(72)
    body = {
        "slots": [
            {
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "seat_types": seat_types,
            }
        ]
    }

    response = authed_client(partner.user).post(SLOTS, body, format="json")

    assert response.status_code == 400, response.content
    assert not Slot.objects.exists()
    assert not SlotSeatType.objects.exists()


# --- booking a seat type --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_seat_type_with_its_own_price_is_charged_at_it_and_holds_its_own_seats(
    customer, partner, variant
):
    offer(partner, variant, price_minor=50000)
    slot = _class_slot(partner)

    front = book_slot(
        customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=2, seat_type="front"
    )
    regular = book_slot(
        customer=CustomerFactory(),
        slot_id=slot.pk,
        variant_id=variant.pk,
        quantity=3,
        seat_type="regular",
    )

    assert (front.seat_type, front.amount_minor) == ("front", 2 * 79900)
    assert (regular.seat_type, regular.amount_minor) == ("regular", 3 * 50000)
    assert _seats(slot) == {"regular": (10, 3), "front": (2, 2)}
    assert _totals(slot) == (12, 5)
    with pytest.raises(SlotUnavailable):  # the front row is full, regular seats are not
        book_slot(
            customer=CustomerFactory(), slot_id=slot.pk, variant_id=variant.pk, seat_type="front"
        )
    assert _seats(slot) == {"regular": (10, 3), "front": (2, 2)}
    assert _totals(slot) == (12, 5)


@pytest.mark.django_db
def test_seat_type_errors_have_their_own_codes_and_book_nothing(customer_client, partner, variant):
    slot = _class_slot(partner)

    unnamed = customer_client.post(
        BOOKINGS, {"slot_id": slot.pk, "variant_id": variant.pk}, format="json"
    )
    unknown = customer_client.post(
        BOOKINGS, {"slot_id": slot.pk, "variant_id": variant.pk, "seat_type": "vip"}, format="json"
    )

    assert (unnamed.status_code, unnamed.json()["code"]) == (400, "seat_type_required")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "seat_type_not_found")
    assert unknown.json()["errors"] == {"seat_type": ["One of: regular, front."]}
    assert not Booking.objects.exists()
    assert _totals(slot) == (12, 0)
    assert _seats(slot) == {"regular": (10, 0), "front": (2, 0)}


@pytest.mark.django_db(transaction=True)
def test_old_clients_without_seat_type_book_the_standard_or_the_only_type(
    customer_client, partner, variant
):
    standard = SlotFactory(
        partner=partner, start=_start(30), end=_start(30) + timedelta(hours=1), capacity=3
    )
    only = SlotFactory(
        partner=partner,
        start=_start(40),
        end=_start(40) + timedelta(hours=1),
        seat_types=[("general", 5)],
    )

    for slot in (standard, only):
        response = customer_client.post(
            BOOKINGS, {"slot_id": slot.pk, "variant_id": variant.pk, "quantity": 2}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["amount"] == 2 * variant.price_minor

    assert sorted(Booking.objects.values_list("seat_type", flat=True)) == ["general", "standard"]
    assert _seats(standard) == {"standard": (3, 2)}
    assert _seats(only) == {"general": (5, 2)}


@pytest.mark.django_db(transaction=True)
def test_forty_concurrent_bookings_over_two_seat_types_never_oversell_either(partner, variant):
    slot = _class_slot(partner, regular=10, front=3)
    customers = [CustomerFactory() for _ in range(40)]
    rng = random.Random(15)
    asks = [(rng.choice(["regular", "front"]), rng.randint(1, 3)) for _ in range(40)]

    def book(index):
        seat_type, quantity = asks[index]
        try:
            book_slot(
                customer=customers[index],
                slot_id=slot.pk,
                variant_id=variant.pk,
                quantity=quantity,
                seat_type=seat_type,
            )
        except SlotUnavailable:
            return None
        return seat_type

    results = run_concurrently(40, book)

    held = Counter()
    for booking in Booking.objects.filter(slot=slot, holds_seats=True):
        held[booking.seat_type] += booking.quantity
    seats = _seats(slot)
    assert seats["regular"][1] == held["regular"] <= 10
    assert seats["front"][1] == held["front"] <= 3
    assert _totals(slot) == (13, held["regular"] + held["front"])
    # Demand far above supply: every type ends up (nearly) full, never over.
    assert seats["regular"][1] >= 10 - 2 and seats["front"][1] >= 3 - 2
    assert sum(1 for r in results if r) == Booking.objects.filter(slot=slot).count()


# --- releasing and moving -------------------------------------------------------------------


@pytest.mark.django_db
def test_cancelling_and_hold_expiry_release_seats_of_the_right_type(customer, partner, variant):
    slot = _class_slot(partner)
    front = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk, seat_type="front")
    regular = book_slot(
        customer=CustomerFactory(),
        slot_id=slot.pk,
        variant_id=variant.pk,
        quantity=4,
        seat_type="regular",
    )

    transition_booking(
        booking_id=front.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.CANCELLED,
        actor_label="test",
        release_seats=True,
    )
    assert _seats(slot) == {"regular": (10, 4), "front": (2, 0)}
    Booking.objects.filter(pk=regular.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert expire_due_holds() == 1
    assert _seats(slot) == {"regular": (10, 0), "front": (2, 0)}
    assert _totals(slot) == (12, 0)


@pytest.mark.django_db
def test_reschedule_keeps_the_seat_type_or_takes_another(customer, partner, variant):
    here = _class_slot(partner, hours=48)
    there = _class_slot(partner, hours=72)
    plain = SlotFactory(
        partner=partner, start=_start(96), end=_start(96) + timedelta(hours=1), capacity=2
    )
    booking = book_slot(
        customer=customer, slot_id=here.pk, variant_id=variant.pk, seat_type="front"
    )

    moved = reschedule_booking(customer=customer, booking_id=booking.pk, slot_id=there.pk)
    assert (moved.slot_id, moved.seat_type, moved.amount_minor) == (there.pk, "front", 79900)
    assert _seats(here) == {"regular": (10, 0), "front": (2, 0)}
    assert _seats(there) == {"regular": (10, 0), "front": (2, 1)}

    moved = reschedule_booking(customer=customer, booking_id=booking.pk, slot_id=plain.pk)
    # The new slot has no front row: its one standard type, the amount unchanged.
    assert (moved.slot_id, moved.seat_type, moved.amount_minor) == (plain.pk, "standard", 79900)
    assert _seats(there) == {"regular": (10, 0), "front": (2, 0)}
    assert _seats(plain) == {"standard": (2, 1)}
    assert _totals(there) == (12, 0)
    assert _totals(plain) == (2, 1)


@pytest.mark.django_db
def test_reschedule_to_a_named_seat_type(customer, partner, variant, settings):
    settings.RESCHEDULE_MAX_TIMES = 5
    here = _class_slot(partner, hours=48)
    there = _class_slot(partner, hours=72)
    booking = book_slot(
        customer=customer, slot_id=here.pk, variant_id=variant.pk, seat_type="front"
    )

    moved = reschedule_booking(
        customer=customer, booking_id=booking.pk, slot_id=there.pk, seat_type="regular"
    )

    assert (moved.seat_type, moved.slot_id) == ("regular", there.pk)
    assert _seats(there) == {"regular": (10, 1), "front": (2, 0)}
    assert _seats(here) == {"regular": (10, 0), "front": (2, 0)}


# --- the waitlist per seat type -------------------------------------------------------------


@pytest.mark.django_db
def test_a_freed_seat_goes_to_the_first_in_line_for_its_type(
    partner, variant, django_capture_on_commit_callbacks
):
    slot = _class_slot(partner, regular=1, front=1)
    regular = BookingFactory(
        slot=slot, variant=variant, seat_type="regular", status=BookingStatus.CONFIRMED
    )
    BookingFactory(slot=slot, variant=variant, seat_type="front", status=BookingStatus.CONFIRMED)
    assert _seats(slot) == {"regular": (1, 1), "front": (1, 1)}
    waiting_front = join_waitlist(
        customer=CustomerFactory(), slot_id=slot.pk, variant_id=variant.pk, seat_type="front"
    )
    waiting_regular = join_waitlist(
        customer=CustomerFactory(), slot_id=slot.pk, variant_id=variant.pk, seat_type="regular"
    )

    with django_capture_on_commit_callbacks(execute=True):
        transition_booking(
            booking_id=regular.pk,
            from_statuses=[BookingStatus.CONFIRMED],
            to_status=BookingStatus.CANCELLED,
            actor_label="test",
            release_seats=True,
        )

    waiting_front.refresh_from_db()
    waiting_regular.refresh_from_db()
    assert waiting_front.status == WaitlistStatus.WAITING  # first in line, but for the front row
    assert waiting_regular.status == WaitlistStatus.OFFERED
    offered = waiting_regular.offered_booking
    assert (offered.seat_type, offered.amount_minor) == ("regular", variant.price_minor)
    assert _seats(slot) == {"regular": (1, 1), "front": (1, 1)}


@pytest.mark.django_db
def test_a_waitlist_join_is_refused_while_its_type_has_room(customer, partner, variant):
    slot = _class_slot(partner, regular=1, front=1)
    BookingFactory(slot=slot, variant=variant, seat_type="front", status=BookingStatus.CONFIRMED)

    entry = join_waitlist(
        customer=customer, slot_id=slot.pk, variant_id=variant.pk, seat_type="front"
    )
    with pytest.raises(SlotHasRoom):
        join_waitlist(
            customer=CustomerFactory(), slot_id=slot.pk, variant_id=variant.pk, seat_type="regular"
        )

    assert entry.seat_type == "front"
    assert SlotSeatType.objects.filter(slot=slot).aggregate(n=Sum("booked"))["n"] == 1
