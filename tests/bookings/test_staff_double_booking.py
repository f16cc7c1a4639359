"""A staff member cannot be in two places: the database decides, also under races."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.rescheduling import reschedule_booking
from bookings.staffing import _busy_elsewhere
from bookings.transitions import transition_booking
from conftest import authed_client
from tests.concurrency import run_concurrently
from tests.factories.bookings import BookingFactory
from tests.factories.partners import (
    PartnerFactory,
    ServiceVariantFactory,
    SlotFactory,
    StaffFactory,
)


def _assign(client, booking, staff):
    return client.patch(
        f"/api/v1/provider/bookings/{booking.pk}/assign", {"staff_id": staff.pk}, format="json"
    )


@pytest.fixture
def crew(db):
    """Two confirmed bookings on one two-seat slot, another booking on an adjacent slot,
    one staff member."""
    variant = ServiceVariantFactory()
    partner = PartnerFactory(services=[variant.service])
    start = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    shared = SlotFactory(partner=partner, start=start, capacity=2)
    adjacent = SlotFactory(partner=partner, start=shared.end)
    first, second = (
        BookingFactory(slot=shared, variant=variant, status=BookingStatus.CONFIRMED)
        for _ in range(2)
    )
    later = BookingFactory(slot=adjacent, variant=variant, status=BookingStatus.CONFIRMED)
    return {
        "partner": partner,
        "client": authed_client(partner.user),
        "staff": StaffFactory(partner=partner),
        "first": first,
        "second": second,
        "later": later,
    }


@pytest.mark.django_db
def test_a_staff_member_on_a_booking_cannot_take_an_overlapping_one(crew):
    client, staff = crew["client"], crew["staff"]
    assert _assign(client, crew["first"], staff).status_code == 200

    response = _assign(client, crew["second"], staff)

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "staff_busy"
    crew["second"].refresh_from_db()
    assert crew["second"].assigned_staff_id is None
    # Back to back is not overlapping: [10:00, 11:00) and [11:00, 12:00).
    assert _assign(client, crew["later"], staff).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["cancelled", "completed", "rescheduled"])
def test_cancelling_completing_or_rescheduling_frees_the_staff_members_time(crew, how):
    client, staff, first = crew["client"], crew["staff"], crew["first"]
    assert _assign(client, first, staff).status_code == 200
    if how == "cancelled":
        transition_booking(
            booking_id=first.pk,
            from_statuses=[BookingStatus.CONFIRMED],
            to_status=BookingStatus.CANCELLED,
            release_seats=True,
        )
    elif how == "completed":
        Booking.objects.filter(pk=first.pk).update(status=BookingStatus.COMPLETED)
    else:
        elsewhere = SlotFactory(partner=crew["partner"], start=first.slot.start + timedelta(days=1))
        reschedule_booking(customer=first.customer, booking_id=first.pk, slot_id=elsewhere.pk)

    assert _assign(client, crew["second"], staff).status_code == 200


@pytest.mark.django_db
def test_the_database_refuses_a_double_booking_written_around_the_service(crew):
    staff = crew["staff"]
    Booking.objects.filter(pk=crew["first"].pk).update(assigned_staff=staff)

    with pytest.raises(IntegrityError, match="booking_staff_no_overlap"), transaction.atomic():
        Booking.objects.filter(pk=crew["second"].pk).update(assigned_staff=staff)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_concurrent_assigns_of_one_person_give_one_200_and_one_409_staff_busy(crew, attempt):
    client, staff = crew["client"], crew["staff"]
    targets = [crew["first"], crew["second"]]

    def assign(index: int):
        response = _assign(client, targets[index], staff)
        return response.status_code, response.json().get("code")

    outcomes = run_concurrently(2, assign)

    assert sorted(outcomes, key=str) == [(200, None), (409, "staff_busy")]
    assert Booking.objects.filter(assigned_staff=staff).count() == 1


@pytest.mark.django_db
def test_without_exclusion_constraints_the_same_rule_is_asked_as_a_query(crew):
    # The embedded SQLite default has no exclusion constraints; staffing asks this instead.
    staff = crew["staff"]
    Booking.objects.filter(pk=crew["first"].pk).update(assigned_staff=staff)

    assert _busy_elsewhere(staff=staff, booking_id=crew["second"].pk)  # same time
    assert not _busy_elsewhere(staff=staff, booking_id=crew["later"].pk)  # adjacent
    Booking.objects.filter(pk=crew["first"].pk).update(status=BookingStatus.CANCELLED)
    assert not _busy_elsewhere(staff=staff, booking_id=crew["second"].pk)  # time freed
