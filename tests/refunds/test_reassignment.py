"""A partner cancels a confirmed booking: another partner takes it over, or a full refund."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingStatus
from conftest import authed_client
from notifications.models import OutboxMessage
from partners.models import Slot
from payments.models import Payment
from refunds.models import Refund
from tests.concurrency import run_concurrently
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, SlotFactory, StaffFactory
from tests.factories.refunds import CapturedPaymentFactory


def _hooked(**fields):
    return PartnerFactory(
        webhook_url=f"https://p{PartnerFactory._meta.next_sequence()}.example/hook",
        webhook_secret="whsec_x",
        **fields,
    )


@pytest.fixture
def start():
    return (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def paid(customer, city, service, variant, start):
    """A CONFIRMED, paid booking of a partner that will cancel, with a staff member."""
    partner = _hooked(city=city, services=[service], rating="4.00")
    booking = BookingFactory(
        customer=customer,
        slot=SlotFactory(partner=partner, start=start),
        variant=variant,
        status=BookingStatus.CONFIRMED,
        assigned_staff=StaffFactory(partner=partner),
    )
    CapturedPaymentFactory(booking=booking)
    return booking


def _provider_cancel(booking, reason="staff ill"):
    client = authed_client(booking.partner.user)
    return client.post(
        f"/api/v1/provider/bookings/{booking.pk}/cancel", {"reason": reason}, format="json"
    )


@pytest.mark.django_db
def test_a_free_partner_at_the_same_time_takes_the_booking_over(paid, city, service, start):
    old_partner, old_slot = paid.partner, paid.slot
    payment = Payment.objects.get(booking=paid)
    new_partner = _hooked(city=city, services=[service])
    new_slot = SlotFactory(partner=new_partner, start=start)

    response = _provider_cancel(paid)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "reassigned"
    assert body["status"] == "CONFIRMED"
    assert (body["partner_id"], body["slot_id"]) == (new_partner.pk, new_slot.pk)
    assert body["refund"]["id"] is None
    assert body["timeline"][-1]["kind"] == "reassigned"
    # The customer sees the booking with its new partner and the same payment.
    customer_view = authed_client(paid.customer).get(f"/api/v1/bookings/{paid.pk}").json()
    assert (customer_view["partner_id"], customer_view["slot_id"]) == (new_partner.pk, new_slot.pk)
    assert customer_view["payment"]["order_id"] == payment.order_id
    assert customer_view["amount"] == paid.amount_minor
    assert customer_view["reassigned_at"] is not None
    assert not Refund.objects.exists()
    assert Payment.objects.get(pk=payment.pk).status == payment.status
    booking = Booking.objects.get(pk=paid.pk)
    assert booking.assigned_staff_id is None
    assert (booking.slot_start, booking.slot_end) == (new_slot.start, new_slot.end)
    old_slot.refresh_from_db()
    new_slot.refresh_from_db()
    assert (old_slot.booked, new_slot.booked) == (0, 1)
    event = BookingEvent.objects.get(booking=paid, kind="reassigned")
    assert event.data["from_partner_id"] == old_partner.pk
    assert event.data["to_partner_id"] == new_partner.pk
    # Both partners hear about it (each about its own slot), the customer by email.
    hooks = {
        json.loads(row.body)["data"]["partner_id"]: json.loads(row.body)["data"]
        for row in OutboxMessage.objects.filter(
            kind="booking.reassigned", booking_id=paid.pk, channel=OutboxMessage.Channel.WEBHOOK
        )
    }
    assert hooks[old_partner.pk]["slot_id"] == old_slot.pk
    assert hooks[old_partner.pk]["direction"] == "away"
    assert hooks[new_partner.pk]["slot_id"] == new_slot.pk
    assert hooks[new_partner.pk]["direction"] == "to_you"
    assert OutboxMessage.objects.filter(
        kind="booking.reassigned", booking_id=paid.pk, recipient=paid.customer.email
    ).exists()
    assert OutboxMessage.objects.filter(kind="otp.arrival", booking_id=paid.pk).exists()
    # The booking left the old partner's list and joined the new one's.
    old_view = authed_client(old_partner.user).get(f"/api/v1/provider/bookings/{paid.pk}")
    assert old_view.status_code == 404
    new_view = authed_client(new_partner.user).get(f"/api/v1/provider/bookings/{paid.pk}")
    assert new_view.status_code == 200


@pytest.mark.django_db
def test_the_replacement_needs_room_in_a_seat_type_of_the_bookings_code(paid, city, service, start):
    # Better rated, more of them than the attempts a reassignment makes, but they sell only
    # other seat types: the booking keeps its type, so they are not candidates at all.
    other_seats = [
        SlotFactory(
            partner=_hooked(city=city, services=[service], rating="5.00"),
            start=start,
            end=start + timedelta(hours=1),
            seat_types=[("regular", 5), ("front", 2)],
        )
        for _ in range(6)
    ]
    plain = SlotFactory(partner=_hooked(city=city, services=[service], rating="3.00"), start=start)

    response = _provider_cancel(paid)

    assert response.status_code == 200, response.content
    assert (response.json()["outcome"], response.json()["slot_id"]) == ("reassigned", plain.pk)
    assert Booking.objects.get(pk=paid.pk).seat_type == "standard"
    for slot in other_seats:
        assert dict(slot.seat_types.values_list("code", "booked")) == {"regular": 0, "front": 0}


@pytest.mark.django_db
def test_without_a_free_partner_the_booking_is_cancelled_with_a_full_refund(
    paid, city, service, start
):
    # Not eligible: another time, another city, inactive, unverified, full, blocked.
    SlotFactory(partner=_hooked(city=city, services=[service]), start=start + timedelta(hours=1))
    SlotFactory(partner=_hooked(services=[service]), start=start)
    SlotFactory(partner=_hooked(city=city, services=[service], active=False), start=start)
    SlotFactory(partner=_hooked(city=city, services=[service], verified=False), start=start)
    full = SlotFactory(partner=_hooked(city=city, services=[service]), start=start)
    BookingFactory(slot=full, variant=paid.variant, status=BookingStatus.CONFIRMED)
    SlotFactory(partner=_hooked(city=city, services=[service]), start=start, blocked=True)
    seats_before = dict(Slot.objects.exclude(pk=paid.slot_id).values_list("pk", "booked"))

    response = _provider_cancel(paid)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "refunded"
    assert body["status"] == "CANCELLED"
    assert (body["refund"]["amount"], body["refund"]["percent"]) == (paid.amount_minor, 100)
    assert dict(Slot.objects.exclude(pk=paid.slot_id).values_list("pk", "booked")) == seats_before
    assert not BookingEvent.objects.filter(booking=paid, kind="reassigned").exists()


@pytest.mark.django_db
def test_the_replacement_is_ranked_like_assignment_and_the_window_is_a_setting(
    paid, city, service, start, settings
):
    SlotFactory(partner=_hooked(city=city, services=[service], rating="3.00"), start=start)
    best = SlotFactory(partner=_hooked(city=city, services=[service], rating="4.90"), start=start)
    earlier = SlotFactory(
        partner=_hooked(city=city, services=[service], rating="1.00"),
        start=start - timedelta(minutes=30),
    )

    settings.REASSIGN_WINDOW_MINUTES = 0
    assert _provider_cancel(paid).json()["slot_id"] == best.pk

    # With a 30-minute window the earliest fitting slot ranks first, as in partners/assign.
    settings.REASSIGN_WINDOW_MINUTES = 30
    second = BookingFactory(
        slot=SlotFactory(partner=paid.partner, start=start + timedelta(days=1)),
        variant=paid.variant,
        status=BookingStatus.CONFIRMED,
    )
    Slot.objects.filter(pk=earlier.pk).update(
        start=second.slot.start - timedelta(minutes=30),
        end=second.slot.start + timedelta(minutes=30),
    )
    assert _provider_cancel(second).json()["slot_id"] == earlier.pk


@pytest.mark.django_db
def test_an_unpaid_booking_is_cancelled_not_reassigned(customer, city, service, variant, start):
    partner = PartnerFactory(city=city, services=[service])
    booking = BookingFactory(
        customer=customer, slot=SlotFactory(partner=partner, start=start), variant=variant
    )
    SlotFactory(partner=PartnerFactory(city=city, services=[service]), start=start)

    body = _provider_cancel(booking).json()

    assert (body["status"], body["outcome"]) == ("CANCELLED", "refunded")


@pytest.mark.django_db
def test_a_customer_cancelling_a_reassigned_booking_before_it_starts_gets_a_full_refund(
    paid, city, service, start
):
    new_partner = _hooked(city=city, services=[service])
    SlotFactory(partner=new_partner, start=start)
    assert _provider_cancel(paid).json()["outcome"] == "reassigned"
    staff = StaffFactory(partner=new_partner)
    assigned = authed_client(new_partner.user).patch(
        f"/api/v1/provider/bookings/{paid.pk}/assign", {"staff_id": staff.pk}, format="json"
    )
    assert assigned.status_code == 200, assigned.content

    # One hour before the start the tiers give 0 %; a reassigned booking gets 100 %.
    with time_machine.travel(start - timedelta(hours=1), tick=False):
        response = authed_client(paid.customer).post(
            f"/api/v1/bookings/{paid.pk}/cancel", {"reason": "not this partner"}, format="json"
        )

    assert response.status_code == 200, response.content
    assert (response.json()["refund"]["percent"], response.json()["refund"]["amount"]) == (
        100,
        paid.amount_minor,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_reassignments_never_put_two_bookings_on_one_seat(
    settings, city, service, variant, start, attempt
):
    settings.LOCK_TIMEOUT_MS = 60_000
    cancelling = PartnerFactory(city=city, services=[service])
    shared = SlotFactory(partner=cancelling, start=start, capacity=2)
    bookings = [
        BookingFactory(slot=shared, variant=variant, status=BookingStatus.CONFIRMED)
        for _ in range(2)
    ]
    for booking in bookings:
        CapturedPaymentFactory(booking=booking)
    one_seat = SlotFactory(partner=PartnerFactory(city=city, services=[service]), start=start)

    def cancel(index: int):
        response = _provider_cancel(bookings[index])
        return response.status_code, response.json().get("outcome")

    outcomes = run_concurrently(2, cancel)

    assert sorted(outcomes) == [(200, "reassigned"), (200, "refunded")]
    one_seat.refresh_from_db()
    shared.refresh_from_db()
    assert (one_seat.booked, shared.booked) == (1, 0)
    assert Booking.objects.filter(slot=one_seat, status=BookingStatus.CONFIRMED).count() == 1
