"""Released seats go to the waitlist: first in line that fits, one offer per entry, and
an unpaid offer passes to the next customer."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from bookings.models import (
    Booking,
    BookingEvent,
    BookingStatus,
    WaitlistStatus,
)
from bookings.services import expire_due_holds
from bookings.transitions import transition_booking
from bookings.waitlist.services import join_waitlist, promote_waitlist
from notifications.models import OutboxMessage
from partners.models import ServiceVariant, SlotSeatType
from payments.models import Payment
from payments.services import record_capture, record_failure
from payments.waitlist_offers import sweep_waitlists
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import ServiceVariantFactory, offer


def _cancel(booking, capture):
    with capture(execute=True):
        transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED],
            to_status=BookingStatus.CANCELLED,
            actor_label="test",
            release_seats=True,
        )


def _full(make_slot, variant, *quantities, hours=48):
    slot = make_slot(capacity=sum(quantities), hours=hours)
    bookings = [
        BookingFactory(slot=slot, variant=variant, quantity=q, status=BookingStatus.CONFIRMED)
        for q in quantities
    ]
    return slot, bookings


def _wait(slot, variant, quantity=1, customer=None):
    return join_waitlist(
        customer=customer or CustomerFactory(),
        slot_id=slot.pk,
        variant_id=variant.pk,
        quantity=quantity,
    )


def _first_offered(make_slot, variant, capture):
    """A one-seat slot with two waiters whose booking was just cancelled: the seat is now
    offered to ``first`` (refreshed), ``second`` still waits. Returns (slot, first, second)."""
    slot, (booking,) = _full(make_slot, variant, 1)
    first = _wait(slot, variant)
    second = _wait(slot, variant)
    _cancel(booking, capture)
    first.refresh_from_db()
    return slot, first, second


def _status(entry):
    entry.refresh_from_db()
    return entry.status


@pytest.mark.django_db
def test_a_cancelled_booking_offers_its_seat_to_the_first_in_line(
    make_slot, variant, settings, django_capture_on_commit_callbacks
):
    slot, (booking,) = _full(make_slot, variant, 1)
    first = _wait(slot, variant)
    second = _wait(slot, variant)

    _cancel(booking, django_capture_on_commit_callbacks)

    first.refresh_from_db()
    assert first.status == WaitlistStatus.OFFERED
    offer = first.offered_booking
    assert (offer.customer_id, offer.slot_id, offer.variant_id) == (
        first.customer_id,
        slot.pk,
        variant.pk,
    )
    assert offer.status == BookingStatus.PENDING_PAYMENT
    assert offer.holds_seats is True
    assert offer.amount_minor == variant.price_minor
    hold = timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    assert timezone.now() < offer.hold_expires_at <= timezone.now() + hold
    assert first.offer_expires_at == offer.hold_expires_at
    assert BookingEvent.objects.filter(booking=offer, kind="waitlist_offer").count() == 1
    payment = Payment.objects.get(booking=offer)
    assert payment.gateway == "sandbox"
    message = OutboxMessage.objects.get(kind="waitlist.offer")
    assert message.recipient == first.customer.email
    assert message.booking_id == offer.pk
    assert payment.checkout_url in message.body
    assert _status(second) == WaitlistStatus.WAITING
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.django_db
def test_offers_follow_the_order_of_joining(make_slot, variant, django_capture_on_commit_callbacks):
    slot, bookings = _full(make_slot, variant, 1, 1)
    entries = [_wait(slot, variant) for _ in range(3)]

    _cancel(bookings[1], django_capture_on_commit_callbacks)
    assert [_status(e) for e in entries] == ["offered", "waiting", "waiting"]

    _cancel(bookings[0], django_capture_on_commit_callbacks)
    assert [_status(e) for e in entries] == ["offered", "offered", "waiting"]
    slot.refresh_from_db()
    assert slot.booked == 2
    assert Booking.objects.filter(status=BookingStatus.PENDING_PAYMENT).count() == 2


@pytest.mark.django_db
def test_an_entry_that_does_not_fit_keeps_its_place_and_the_next_that_fits_is_offered(
    make_slot, variant, django_capture_on_commit_callbacks
):
    slot, bookings = _full(make_slot, variant, 1, 1)
    pair = _wait(slot, variant, quantity=2)
    single = _wait(slot, variant, quantity=1)

    _cancel(bookings[0], django_capture_on_commit_callbacks)

    assert _status(pair) == WaitlistStatus.WAITING
    assert _status(single) == WaitlistStatus.OFFERED
    assert single.offered_booking.quantity == 1


@pytest.mark.django_db
def test_a_release_of_two_seats_serves_an_entry_for_two(
    make_slot, variant, django_capture_on_commit_callbacks
):
    slot, (booking,) = _full(make_slot, variant, 2)
    pair = _wait(slot, variant, quantity=2)
    single = _wait(slot, variant, quantity=1)

    _cancel(booking, django_capture_on_commit_callbacks)

    assert _status(pair) == WaitlistStatus.OFFERED
    assert pair.offered_booking.quantity == 2
    assert pair.offered_booking.amount_minor == 2 * variant.price_minor
    assert _status(single) == WaitlistStatus.WAITING


@pytest.mark.django_db
def test_an_unpaid_offer_expires_and_passes_to_the_next_in_line(
    make_slot, variant, settings, django_capture_on_commit_callbacks
):
    slot, first, second = _first_offered(make_slot, variant, django_capture_on_commit_callbacks)
    lapsed = first.offered_booking

    later = timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES, seconds=1)
    with (
        time_machine.travel(later, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert expire_due_holds() == 1

    lapsed.refresh_from_db()
    assert lapsed.status == BookingStatus.EXPIRED
    assert _status(first) == WaitlistStatus.EXPIRED
    second.refresh_from_db()
    assert second.status == WaitlistStatus.OFFERED
    assert second.offered_booking.status == BookingStatus.PENDING_PAYMENT
    assert second.offered_booking.hold_expires_at > later
    assert OutboxMessage.objects.filter(kind="waitlist.offer").count() == 2
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.django_db
def test_paying_the_offer_books_the_entry_and_offers_nothing_more(
    make_slot, variant, django_capture_on_commit_callbacks
):
    _slot, first, second = _first_offered(make_slot, variant, django_capture_on_commit_callbacks)
    payment = Payment.objects.get(booking=first.offered_booking)

    with django_capture_on_commit_callbacks(execute=True):
        record_capture(
            payment=payment,
            gateway_payment_id="sbx_pay_1",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            label="sandbox",
        )

    assert _status(first) == WaitlistStatus.BOOKED
    assert first.offered_booking.status == BookingStatus.CONFIRMED
    assert _status(second) == WaitlistStatus.WAITING


@pytest.mark.django_db
def test_a_failed_payment_of_an_offer_expires_the_entry_and_serves_the_next(
    make_slot, variant, django_capture_on_commit_callbacks
):
    slot, first, second = _first_offered(make_slot, variant, django_capture_on_commit_callbacks)
    payment = Payment.objects.get(booking=first.offered_booking)

    with django_capture_on_commit_callbacks(execute=True):
        record_failure(payment=payment, reason="Card declined.", label="sandbox")

    assert _status(first) == WaitlistStatus.EXPIRED
    assert first.offered_booking.status == BookingStatus.PAYMENT_FAILED
    assert _status(second) == WaitlistStatus.OFFERED
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.django_db
def test_cancelling_an_offered_booking_cancels_the_entry_and_serves_the_next(
    make_slot, variant, django_capture_on_commit_callbacks
):
    _slot, first, second = _first_offered(make_slot, variant, django_capture_on_commit_callbacks)

    _cancel(first.offered_booking, django_capture_on_commit_callbacks)

    assert _status(first) == WaitlistStatus.CANCELLED
    assert _status(second) == WaitlistStatus.OFFERED


@pytest.mark.django_db
def test_a_release_that_rolls_back_offers_nothing(
    make_slot, variant, django_capture_on_commit_callbacks
):
    slot, (booking,) = _full(make_slot, variant, 1)
    entry = _wait(slot, variant)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.CONFIRMED],
            to_status=BookingStatus.CANCELLED,
            actor_label="test",
            release_seats=True,
        )
        raise RuntimeError("the releasing request failed")

    assert _status(entry) == WaitlistStatus.WAITING
    assert Booking.objects.count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.django_db
def test_promoting_twice_offers_each_entry_once(make_slot, variant):
    slot, (booking,) = _full(make_slot, variant, 2)
    entries = [_wait(slot, variant) for _ in range(3)]
    # Seats freed without the signal's promotion (e.g. a lost enqueue).
    transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.CONFIRMED],
        to_status=BookingStatus.CANCELLED,
        actor_label="test",
        release_seats=True,
    )

    offered = promote_waitlist(slot_id=slot.pk)
    again = promote_waitlist(slot_id=slot.pk)

    assert len(offered) == 2
    assert again == []
    assert [_status(e) for e in entries] == ["offered", "offered", "waiting"]
    slot.refresh_from_db()
    assert slot.booked == 2


@pytest.mark.django_db
def test_an_entry_whose_variant_was_withdrawn_expires_and_the_next_is_served(
    make_slot, variant, django_capture_on_commit_callbacks
):
    slot, (booking,) = _full(make_slot, variant, 1)
    withdrawn = ServiceVariantFactory(
        service=variant.service, name="Deep", tier=ServiceVariant.Tier.PREMIUM, price_minor=99900
    )
    offer(slot.partner, withdrawn)
    stale = _wait(slot, withdrawn)
    served = _wait(slot, variant)
    type(withdrawn).objects.filter(pk=withdrawn.pk).update(active=False)

    _cancel(booking, django_capture_on_commit_callbacks)

    assert _status(stale) == WaitlistStatus.EXPIRED
    assert stale.offered_booking_id is None
    assert _status(served) == WaitlistStatus.OFFERED
    assert Booking.objects.filter(variant=withdrawn).count() == 0


@pytest.mark.django_db
def test_an_entry_whose_variant_no_longer_fits_the_slot_expires_and_the_next_is_served(
    make_slot, variant, django_capture_on_commit_callbacks
):
    slot, (booking,) = _full(make_slot, variant, 1)
    longer = ServiceVariantFactory(service=variant.service, tier=ServiceVariant.Tier.PREMIUM)
    offer(slot.partner, longer)
    stale = _wait(slot, longer)
    served = _wait(slot, variant)
    # The variant now takes longer than the slot (one hour).
    type(longer).objects.filter(pk=longer.pk).update(duration_minutes=90)

    _cancel(booking, django_capture_on_commit_callbacks)

    assert _status(stale) == WaitlistStatus.EXPIRED
    assert stale.offered_booking_id is None
    assert _status(served) == WaitlistStatus.OFFERED
    assert Booking.objects.filter(variant=longer).count() == 0


@pytest.mark.django_db
def test_a_blocked_slot_offers_nothing_until_unblocked(make_slot, variant):
    slot, (booking,) = _full(make_slot, variant, 1)
    entry = _wait(slot, variant)
    transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.CONFIRMED],
        to_status=BookingStatus.CANCELLED,
        actor_label="test",
        release_seats=True,
    )
    type(slot).objects.filter(pk=slot.pk).update(blocked=True)

    assert promote_waitlist(slot_id=slot.pk) == []
    assert _status(entry) == WaitlistStatus.WAITING

    type(slot).objects.filter(pk=slot.pk).update(blocked=False)
    assert len(promote_waitlist(slot_id=slot.pk)) == 1
    assert _status(entry) == WaitlistStatus.OFFERED


@pytest.mark.django_db
def test_the_sweep_serves_added_capacity_and_expires_entries_of_started_slots(
    make_slot, variant, django_capture_on_commit_callbacks
):
    grown, _ = _full(make_slot, variant, 1)
    started, _ = _full(make_slot, variant, 1, hours=50)
    served = _wait(grown, variant)
    too_late = _wait(started, variant)
    type(grown).objects.filter(pk=grown.pk).update(capacity=2)  # partner added a seat
    SlotSeatType.objects.filter(slot=grown).update(capacity=2)
    type(started).objects.filter(pk=started.pk).update(
        start=timezone.now() - timedelta(minutes=1), end=timezone.now() + timedelta(minutes=59)
    )

    with django_capture_on_commit_callbacks(execute=True):
        offered = sweep_waitlists()

    served.refresh_from_db()
    assert offered == [served.offered_booking_id]
    assert served.status == WaitlistStatus.OFFERED
    assert Payment.objects.filter(booking_id=served.offered_booking_id).exists()
    assert _status(too_late) == WaitlistStatus.EXPIRED
    started.refresh_from_db()
    assert started.booked == 1


@pytest.mark.django_db
def test_when_the_payment_cannot_be_started_the_offer_waits_out_its_hold_silently(
    make_slot, variant, settings, django_capture_on_commit_callbacks
):
    settings.PAYMENT_SANDBOX_ENABLED = False  # the default gateway (sandbox) refuses
    slot, (booking,) = _full(make_slot, variant, 1)
    entry = _wait(slot, variant)

    _cancel(booking, django_capture_on_commit_callbacks)

    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
    assert entry.offered_booking.status == BookingStatus.PENDING_PAYMENT
    assert not Payment.objects.filter(booking=entry.offered_booking).exists()
    assert not OutboxMessage.objects.filter(kind="waitlist.offer").exists()
