"""Concurrent releases and promotions: each entry is offered once, seats never oversold."""

import pytest

from bookings.errors import SlotHasRoom
from bookings.models import Booking, BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.transitions import transition_booking
from bookings.waitlist.services import join_waitlist, promote_waitlist
from partners.models import Slot, SlotSeatType
from payments.models import Payment
from tests.concurrency import run_concurrently
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory


def _full_slot_with_waiters(make_slot, variant, *, capacity: int, waiters: int):
    slot = make_slot(capacity=capacity)
    bookings = [
        BookingFactory(slot=slot, variant=variant, status=BookingStatus.CONFIRMED)
        for _ in range(capacity)
    ]
    entries = [
        join_waitlist(customer=CustomerFactory(), slot_id=slot.pk, variant_id=variant.pk)
        for _ in range(waiters)
    ]
    return slot, bookings, entries


def _cancel(booking_id: int) -> None:
    transition_booking(
        booking_id=booking_id,
        from_statuses=[BookingStatus.CONFIRMED],
        to_status=BookingStatus.CANCELLED,
        actor_label="test",
        release_seats=True,
    )


def _assert_offers(slot, entries, *, offered: int) -> None:
    statuses = [WaitlistEntry.objects.get(pk=e.pk).status for e in entries]
    assert statuses == ["offered"] * offered + ["waiting"] * (len(entries) - offered)
    offers = Booking.objects.filter(waitlist_entry__isnull=False)
    assert offers.count() == offered
    assert set(offers.values_list("status", flat=True)) == {BookingStatus.PENDING_PAYMENT}
    assert set(offers.values_list("customer_id", flat=True)) == {
        e.customer_id for e in entries[:offered]
    }
    assert Payment.objects.filter(booking__in=offers).count() == offered
    slot = Slot.objects.get(pk=slot.pk)
    holding = Booking.objects.filter(slot=slot, holds_seats=True)
    assert slot.booked == sum(holding.values_list("quantity", flat=True))
    assert slot.booked <= slot.capacity


@pytest.mark.django_db(transaction=True)
def test_two_releases_at_once_make_exactly_two_offers_to_the_first_two(make_slot, variant):
    slot, bookings, entries = _full_slot_with_waiters(make_slot, variant, capacity=2, waiters=3)

    run_concurrently(2, lambda i: _cancel(bookings[i].pk))

    _assert_offers(slot, entries, offered=2)


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_of_one_slot_never_offer_an_entry_twice(make_slot, variant):
    slot, bookings, entries = _full_slot_with_waiters(make_slot, variant, capacity=2, waiters=3)
    # Free the seats without the receiver's promotion: the promotions race below.
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(
        status=BookingStatus.CANCELLED, holds_seats=False
    )
    Slot.objects.filter(pk=slot.pk).update(booked=0)
    SlotSeatType.objects.filter(slot=slot).update(booked=0)

    results = run_concurrently(3, lambda i: promote_waitlist(slot_id=slot.pk))

    offered = [booking_id for result in results for booking_id in result]
    assert len(offered) == len(set(offered)) == 2
    statuses = [WaitlistEntry.objects.get(pk=e.pk).status for e in entries]
    assert statuses == ["offered", "offered", "waiting"]
    slot.refresh_from_db()
    assert slot.booked == 2


@pytest.mark.django_db(transaction=True)
def test_a_join_racing_a_release_is_either_refused_or_served(make_slot, variant):
    slot, (booking,), _ = _full_slot_with_waiters(make_slot, variant, capacity=1, waiters=0)
    joiner = CustomerFactory()

    def act(index: int):
        if index == 0:
            return _cancel(booking.pk)
        try:
            return join_waitlist(customer=joiner, slot_id=slot.pk, variant_id=variant.pk)
        except SlotHasRoom:
            return None

    entry = run_concurrently(2, act)[1]

    # Never a waiting entry left behind next to a free seat.
    if entry is None:
        assert not WaitlistEntry.objects.exists()
        assert Slot.objects.get(pk=slot.pk).booked == 0
    else:
        assert WaitlistEntry.objects.get(pk=entry.pk).status == WaitlistStatus.OFFERED
        assert Slot.objects.get(pk=slot.pk).booked == 1
