"""book_slot: validation, holds, and the no-oversell guarantee under real concurrency."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.errors import (
    PartnerUnavailable,
    SlotBlocked,
    SlotInPast,
    SlotNotFound,
    SlotUnavailable,
    VariantDoesNotFit,
    VariantNotOffered,
)
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.services import book_slot
from partners.models import Slot
from tests.concurrency import run_concurrently
from tests.factories.partners import ServiceFactory, ServiceVariantFactory


@pytest.fixture(autouse=True, params=["one statement", "portable"])
def seat_path(request, monkeypatch):
    """Every test runs through both ways book_slot takes seats: the one UPDATE that checks
    every rule (PostgreSQL) and the portable checks-then-UPDATE (the SQLite default)."""
    if request.param == "portable":
        monkeypatch.setattr("bookings.seats.one_statement_available", lambda: False)
    return request.param


@pytest.mark.django_db
def test_booking_holds_seats_and_prices_in_minor_units(customer, slot, variant, settings):
    settings.BOOKING_HOLD_MINUTES = 15
    slot.capacity = 3
    slot.save()
    before = timezone.now()

    booking = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=2)

    slot.refresh_from_db()
    assert slot.booked == 2
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert booking.holds_seats is True
    assert booking.amount_minor == 2 * 49900
    assert booking.currency == "INR"
    assert booking.partner_id == slot.partner_id
    assert before + timedelta(minutes=15) <= booking.hold_expires_at
    assert booking.hold_expires_at <= timezone.now() + timedelta(minutes=15)
    event = BookingEvent.objects.get(booking=booking)
    assert (event.kind, event.from_status, event.to_status) == ("created", "", "PENDING_PAYMENT")
    assert event.actor == customer


@pytest.mark.django_db
def test_full_slot_is_rejected_and_nothing_is_written(customer, make_slot, variant):
    slot = make_slot(capacity=2)
    book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=2)

    with pytest.raises(SlotUnavailable):
        book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=1)

    slot.refresh_from_db()
    assert slot.booked == 2
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_quantity_above_free_seats_is_rejected(customer, make_slot, variant):
    slot = make_slot(capacity=3)
    with pytest.raises(SlotUnavailable):
        book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=4)
    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Booking.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ("past", SlotInPast),
        ("blocked", SlotBlocked),
        ("inactive_partner", PartnerUnavailable),
        ("unverified_partner", PartnerUnavailable),
        ("variant_of_other_service", VariantNotOffered),
        ("inactive_variant", VariantNotOffered),
        ("inactive_service", VariantNotOffered),
        ("unknown_variant", VariantNotOffered),
        ("variant_longer_than_slot", VariantDoesNotFit),
        ("unknown_slot", SlotNotFound),
    ],
)
def test_invalid_booking_raises_its_error_and_writes_nothing(
    setup, error, customer, make_slot, variant
):
    slot = make_slot(hours=-1 if setup == "past" else 48, blocked=setup == "blocked")
    variant_id, slot_id = variant.pk, slot.pk
    if setup == "inactive_partner":
        slot.partner.active = False
        slot.partner.save()
    elif setup == "unverified_partner":
        slot.partner.verified = False
        slot.partner.save()
    elif setup == "variant_of_other_service":
        variant_id = ServiceVariantFactory(service=ServiceFactory()).pk
    elif setup == "inactive_variant":
        variant.active = False
        variant.save()
    elif setup == "inactive_service":
        variant.service.active = False
        variant.service.save()
    elif setup == "unknown_variant":
        variant_id = 987654
    elif setup == "variant_longer_than_slot":  # the slot is 60 minutes long
        variant.duration_minutes = 61
        variant.save()
    elif setup == "unknown_slot":
        slot_id = 987654

    with pytest.raises(error):
        book_slot(customer=customer, slot_id=slot_id, variant_id=variant_id, quantity=1)

    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Booking.objects.exists()
    assert not BookingEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("broken", "error"),
    [
        ({"past", "partner", "blocked", "variant", "full"}, SlotInPast),
        ({"partner", "blocked", "variant", "full"}, PartnerUnavailable),
        ({"blocked", "variant", "full"}, SlotBlocked),
        ({"variant", "full"}, VariantNotOffered),
    ],
)
def test_of_several_broken_rules_the_first_one_is_named(
    broken, error, customer, make_slot, variant
):
    slot = make_slot(
        capacity=1,
        booked=1 if "full" in broken else 0,
        hours=-1 if "past" in broken else 48,
        blocked="blocked" in broken,
    )
    if "partner" in broken:
        slot.partner.active = False
        slot.partner.save()
    variant_id = ServiceVariantFactory(service=ServiceFactory()).pk if "variant" in broken else 0

    with pytest.raises(error):
        book_slot(customer=customer, slot_id=slot.pk, variant_id=variant_id or variant.pk)

    slot.refresh_from_db()
    assert slot.booked == (1 if "full" in broken else 0)
    assert not Booking.objects.exists()


@pytest.mark.django_db
def test_a_variant_as_long_as_the_slot_fits(customer, make_slot, variant):
    slot = make_slot()
    slot.end = slot.start + timedelta(minutes=180)
    slot.save()
    variant.duration_minutes = 180
    variant.save()

    booking = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk)

    assert booking.variant == variant
    slot.refresh_from_db()
    assert slot.booked == 1


def _book_or_refusal(customer, slot, variant, quantity: int = 1) -> Booking | SlotUnavailable:
    """Book, or return the SlotUnavailable refusal so the test can count winners and losers."""
    try:
        return book_slot(
            customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=quantity
        )
    except SlotUnavailable as refusal:
        return refusal


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_on_a_single_seat_yield_exactly_one_booking(customer, make_slot, variant):
    slot = make_slot(capacity=1)

    results = run_concurrently(50, lambda i: _book_or_refusal(customer, slot, variant))

    winners = [r for r in results if isinstance(r, Booking)]
    losers = [r for r in results if isinstance(r, SlotUnavailable)]
    assert len(winners) == 1
    assert len(losers) == 49
    slot.refresh_from_db()
    assert slot.booked == 1
    assert Booking.objects.filter(slot=slot).count() == 1


@pytest.mark.django_db(transaction=True)
def test_random_quantities_never_exceed_capacity_and_add_up(customer, make_slot, variant, settings):
    settings.MAX_PENDING_BOOKINGS = 30  # one customer makes all thirty attempts
    slot = make_slot(capacity=5)
    quantities = [random.Random(i).randint(1, 3) for i in range(30)]

    results = run_concurrently(
        30, lambda i: _book_or_refusal(customer, slot, variant, quantities[i])
    )

    assert all(isinstance(r, Booking | SlotUnavailable) for r in results), results
    won = sum(r.quantity for r in results if isinstance(r, Booking))
    slot.refresh_from_db()
    assert slot.booked == won
    assert slot.booked <= slot.capacity
    assert sum(Booking.objects.filter(slot=slot).values_list("quantity", flat=True)) == won
    # With 1..3 seats per request and 30 requests, the slot cannot be left with room for 3.
    assert slot.capacity - slot.booked < 3
    assert Slot.objects.get(pk=slot.pk).booked == won
