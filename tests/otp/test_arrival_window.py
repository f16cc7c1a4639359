"""The arrival can be confirmed only from ARRIVAL_WINDOW_MINUTES before the slot starts
until it ends; a try outside that window is a 409 that changes nothing (not even the
code's attempt count)."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from bookings.models import Booking, BookingEvent, BookingStatus
from conftest import authed_client
from otp.models import BookingOtp
from tests.factories.otp import confirmed_booking, last_code, staff_of

pytestmark = pytest.mark.django_db


def arrival_on_slot_starting_in(starts_in: timedelta, capture_on_commit):
    """A confirmed booking with staff assigned, its slot starting ``starts_in`` from now,
    and the arrival code that went out on its confirmation."""
    with capture_on_commit(execute=True):
        booking = confirmed_booking(starts_in=starts_in)
    Booking.objects.filter(pk=booking.pk).update(assigned_staff=staff_of(booking.partner))
    code = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
    return Booking.objects.get(pk=booking.pk), code, authed_client(booking.partner.user)


def confirm(client, booking, code):
    return client.post(
        f"/api/v1/provider/bookings/{booking.pk}/confirm-arrival", {"otp": code}, format="json"
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def assert_nothing_changed(booking):
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED
    otp = BookingOtp.objects.get(booking=booking)
    assert (otp.attempts, otp.used_at) == (0, None)
    assert not BookingEvent.objects.filter(booking=booking, to_status="IN_PROGRESS").exists()


def test_arrival_two_days_early_is_a_409_arrival_too_early_and_changes_nothing(
    django_capture_on_commit_callbacks,
):
    booking, code, client = arrival_on_slot_starting_in(
        timedelta(days=2), django_capture_on_commit_callbacks
    )

    response = confirm(client, booking, code)

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "arrival_too_early"
    assert "60 minutes before the slot starts" in body["detail"]
    assert_nothing_changed(booking)


def test_a_wrong_code_too_early_costs_no_attempt(django_capture_on_commit_callbacks):
    booking, code, client = arrival_on_slot_starting_in(
        timedelta(hours=3), django_capture_on_commit_callbacks
    )

    response = confirm(client, booking, wrong(code))

    assert response.json()["code"] == "arrival_too_early"
    assert_nothing_changed(booking)


def test_the_window_opens_exactly_arrival_window_minutes_before_the_start(
    django_capture_on_commit_callbacks,
):
    booking, code, client = arrival_on_slot_starting_in(
        timedelta(minutes=70), django_capture_on_commit_callbacks
    )
    opens = booking.slot_start - timedelta(minutes=60)

    with time_machine.travel(opens - timedelta(seconds=1), tick=False):
        early = confirm(client, booking, code)
    with time_machine.travel(opens, tick=False):
        on_time = confirm(client, booking, code)

    assert early.status_code == 409
    assert early.json()["code"] == "arrival_too_early"
    assert on_time.status_code == 200, on_time.json()
    assert on_time.json()["status"] == BookingStatus.IN_PROGRESS


def test_the_window_is_configurable(settings, django_capture_on_commit_callbacks):
    booking, code, client = arrival_on_slot_starting_in(
        timedelta(minutes=90), django_capture_on_commit_callbacks
    )
    settings.ARRIVAL_WINDOW_MINUTES = 60
    refused = confirm(client, booking, code)
    assert refused.json()["code"] == "arrival_too_early"
    assert_nothing_changed(booking)

    settings.ARRIVAL_WINDOW_MINUTES = 120
    response = confirm(client, booking, code)  # the same code: the early try spent nothing

    assert response.status_code == 200, response.json()
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.IN_PROGRESS


def test_after_the_slot_ended_the_arrival_is_a_409_arrival_window_passed(
    django_capture_on_commit_callbacks,
):
    # Started 55 minutes ago, the one-hour slot ends in 5 (within the token's lifetime).
    booking, code, client = arrival_on_slot_starting_in(
        -timedelta(minutes=55), django_capture_on_commit_callbacks
    )
    with time_machine.travel(booking.slot_end - timedelta(seconds=1), tick=False):
        assert confirm(client, booking, wrong(code)).json()["code"] == "otp_invalid"
    BookingOtp.objects.filter(booking=booking).update(attempts=0)

    with time_machine.travel(booking.slot_end, tick=False):
        response = confirm(client, booking, code)

    assert response.status_code == 409
    assert response.json()["code"] == "arrival_window_passed"
    assert_nothing_changed(booking)
