"""Reschedules racing each other and a cancellation: real threads, real transactions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import SEAT_HOLDING_STATUSES, Booking, BookingStatus
from conftest import authed_client
from partners.models import Slot
from tests.concurrency import run_concurrently
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory
from tests.factories.refunds import CapturedPaymentFactory


def _seats_add_up() -> None:
    for slot in Slot.objects.all():
        held = sum(
            Booking.objects.filter(
                slot=slot, status__in=SEAT_HOLDING_STATUSES, holds_seats=True
            ).values_list("quantity", flat=True)
        )
        assert slot.booked == held, slot


@pytest.fixture
def concurrency_settings(settings):
    # Twenty transactions queue on one slot row: the wait is not what is under test.
    settings.LOCK_TIMEOUT_MS = 60_000
    return settings


@pytest.mark.django_db(transaction=True)
def test_twenty_customers_rescheduling_into_one_free_seat_get_one_200_and_nineteen_409(
    concurrency_settings,
):
    variant = ServiceVariantFactory()
    partner = PartnerFactory(services=[variant.service])
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    crowded = SlotFactory(partner=partner, start=start, capacity=20)
    target = SlotFactory(partner=partner, start=start + timedelta(days=1), capacity=1)
    bookings = [
        BookingFactory(slot=crowded, variant=variant, status=BookingStatus.CONFIRMED)
        for _ in range(20)
    ]
    clients = [authed_client(b.customer) for b in bookings]

    def reschedule(index: int):
        response = clients[index].post(
            f"/api/v1/bookings/{bookings[index].pk}/reschedule",
            {"slot_id": target.pk},
            format="json",
        )
        return response.status_code, response.json().get("code")

    outcomes = run_concurrently(20, reschedule)

    assert sorted(outcomes, key=str) == [(200, None)] + [(409, "slot_unavailable")] * 19
    crowded.refresh_from_db()
    target.refresh_from_db()
    assert (crowded.booked, target.booked) == (19, 1)
    assert Booking.objects.filter(slot=target).count() == 1
    assert Booking.objects.filter(reschedule_count=1).count() == 1
    _seats_add_up()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_a_reschedule_racing_a_cancel_leaves_one_consistent_outcome(concurrency_settings, attempt):
    variant = ServiceVariantFactory()
    partner = PartnerFactory(services=[variant.service])
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    old = SlotFactory(partner=partner, start=start)
    new = SlotFactory(partner=partner, start=start + timedelta(days=1))
    booking = BookingFactory(slot=old, variant=variant, status=BookingStatus.CONFIRMED)
    CapturedPaymentFactory(booking=booking)
    client = authed_client(booking.customer)

    def act(index: int):
        if index == 0:
            response = client.post(
                f"/api/v1/bookings/{booking.pk}/reschedule", {"slot_id": new.pk}, format="json"
            )
        else:
            response = client.post(f"/api/v1/bookings/{booking.pk}/cancel", {}, format="json")
        return response.status_code, response.json().get("code")

    rescheduled, cancelled = run_concurrently(2, act)

    assert cancelled == (200, None)
    assert rescheduled in [(200, None), (409, "invalid_transition")]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert not booking.holds_seats
    # Cancelled on whichever slot it was on when the cancel ran: both are free again.
    assert booking.slot_id == (new.pk if rescheduled[0] == 200 else old.pk)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.booked, new.booked) == (0, 0)
    _seats_add_up()
