"""Unpaid holds expire once, release their seats once, and stay expired."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings.errors import InvalidTransition
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.services import book_slot, expire_due_holds
from bookings.tasks import expire_holds
from bookings.transitions import transition_booking
from tests.concurrency import run_concurrently


def _after_hold(settings):
    return time_machine.travel(
        timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES, seconds=1), tick=False
    )


@pytest.mark.django_db
def test_expired_hold_releases_seats_once_even_when_the_task_runs_twice(
    customer, make_slot, variant, settings
):
    slot = make_slot(capacity=4)
    booking = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=3)

    with _after_hold(settings):
        assert expire_holds.delay().get() == 1
        assert expire_holds.delay().get() == 0

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert booking.holds_seats is False
    assert slot.booked == 0
    expiries = BookingEvent.objects.filter(booking=booking, to_status=BookingStatus.EXPIRED)
    assert expiries.count() == 1
    assert expiries.get().actor_label == "system"


@pytest.mark.django_db
def test_holds_not_yet_due_and_paid_bookings_are_left_alone(customer, make_slot, variant):
    slot = make_slot(capacity=3)
    fresh = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk)
    paid = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk)
    transition_booking(
        booking_id=paid.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.CONFIRMED,
        actor_label="sandbox",
    )
    Booking.objects.filter(pk=paid.pk).update(hold_expires_at=timezone.now() - timedelta(hours=1))

    assert expire_due_holds() == 0

    fresh.refresh_from_db()
    paid.refresh_from_db()
    slot.refresh_from_db()
    assert fresh.status == BookingStatus.PENDING_PAYMENT
    assert paid.status == BookingStatus.CONFIRMED
    assert slot.booked == 2


@pytest.mark.django_db
def test_expired_booking_cannot_be_confirmed_by_a_later_transition(
    customer, slot, variant, settings
):
    booking = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk)
    with _after_hold(settings):
        expire_holds.delay()

    with pytest.raises(InvalidTransition):
        transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.PENDING_PAYMENT],
            to_status=BookingStatus.CONFIRMED,
            actor_label="sandbox",
        )

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert slot.booked == 0
    assert not BookingEvent.objects.filter(to_status=BookingStatus.CONFIRMED).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_expiry_runs_expire_each_booking_exactly_once(
    customer, make_slot, variant, settings
):
    settings.MAX_PENDING_BOOKINGS = 5  # one customer holds all five unpaid bookings
    slot = make_slot(capacity=10)
    bookings = [
        book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk, quantity=2)
        for _ in range(5)
    ]
    workers = 4

    with _after_hold(settings):
        counts = run_concurrently(workers, lambda i: expire_due_holds(batch_size=2))

    assert sum(counts) == 5, counts
    slot.refresh_from_db()
    assert slot.booked == 0
    for booking in bookings:
        booking.refresh_from_db()
        assert booking.status == BookingStatus.EXPIRED
        assert booking.events.filter(to_status=BookingStatus.EXPIRED).count() == 1
