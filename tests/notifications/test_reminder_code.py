"""The day-of reminder carries a fresh arrival code: the one mailed at confirmation has
expired by then (bookings are made days ahead)."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.tasks import enqueue_booking_reminders
from bookings.transitions import transition_booking
from conftest import authed_client
from notifications.messages import Kind
from notifications.models import OutboxMessage
from notifications.tasks import dispatch_outbox
from otp.models import BookingOtp
from tests.factories.bookings import BookingFactory
from tests.factories.otp import last_code, staff_of
from tests.factories.partners import SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked_days_ahead(django_capture_on_commit_callbacks):
    slot = SlotFactory(start=timezone.now().replace(microsecond=0) + timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        booking, _ = transition_booking(
            booking_id=BookingFactory(slot=slot).pk,
            from_statuses=[BookingStatus.PENDING_PAYMENT],
            to_status=BookingStatus.CONFIRMED,
            actor_label="test-capture",
            reason="payment captured",
        )
    return booking


def send_reminders(django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return enqueue_booking_reminders()


def test_the_reminder_brings_a_fresh_arrival_code_that_opens_the_job(
    booked_days_ahead, django_capture_on_commit_callbacks, sms_outbox, settings
):
    settings.BOOKING_REMINDER_MINUTES = 120
    booking = booked_days_ahead
    customer = booking.customer
    first = last_code(mail.outbox, to=customer.email, booking_id=booking.pk)
    staff = staff_of(booking.partner)
    partner_client = authed_client(booking.partner.user)
    path = f"/api/v1/provider/bookings/{booking.pk}"
    partner_client.patch(f"{path}/assign", {"staff_id": staff.pk}, format="json")

    with time_machine.travel(booking.slot_start - timedelta(minutes=110)):
        assert send_reminders(django_capture_on_commit_callbacks) == 1
        assert send_reminders(django_capture_on_commit_callbacks) == 0
    [reminder] = [m for m in mail.outbox if m.subject.startswith("Reminder:")]
    assert reminder.to == [customer.email]
    assert "starts at" in reminder.body
    fresh = last_code([reminder], to=customer.email, booking_id=booking.pk)
    # valid until the slot ends, not OTP_TTL_MINUTES: the staff arrives well after it
    active = BookingOtp.objects.get(booking=booking, superseded_at__isnull=True)
    assert active.expires_at == booking.slot_end

    with time_machine.travel(booking.slot_start - timedelta(minutes=10)):
        partner_client = authed_client(booking.partner.user)  # a token of the day
        stale = partner_client.post(f"{path}/confirm-arrival", {"otp": first}, format="json")
        opened = partner_client.post(f"{path}/confirm-arrival", {"otp": fresh}, format="json")

    assert stale.status_code == 400
    assert opened.status_code == 200, opened.content
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.IN_PROGRESS
    row = OutboxMessage.objects.get(booking=booking, kind=Kind.BOOKING_REMINDER)
    assert row.status == OutboxMessage.Status.SENT
    assert fresh not in row.body + str(row.payload)


def test_a_code_asked_for_in_the_app_keeps_the_short_lifetime(
    booked_days_ahead, django_capture_on_commit_callbacks
):
    booking = booked_days_ahead
    with time_machine.travel(booking.slot_start - timedelta(minutes=30)):
        send_reminders(django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            authed_client(booking.customer).post(f"/api/v1/bookings/{booking.pk}/resend-otp")
        asked = BookingOtp.objects.get(booking=booking, superseded_at__isnull=True)

    lifetime = asked.expires_at - asked.created_at
    assert abs(lifetime - timedelta(minutes=django_settings.OTP_TTL_MINUTES)) < timedelta(seconds=5)
    assert asked.expires_at < booking.slot_start


def test_a_customer_with_a_phone_gets_the_same_code_by_sms(
    booked_days_ahead, django_capture_on_commit_callbacks, sms_outbox
):
    booking = booked_days_ahead
    booking.customer.phone = "+919822233344"
    booking.customer.save()

    with time_machine.travel(booking.slot_start - timedelta(minutes=30)):
        send_reminders(django_capture_on_commit_callbacks)

    [reminder] = [m for m in mail.outbox if m.subject.startswith("Reminder:")]
    emailed = last_code([reminder], to=booking.customer.email, booking_id=booking.pk)
    [sms] = [m for m in sms_outbox if "reminder" in m.body]
    assert last_code([sms], to="+919822233344", booking_id=booking.pk) == emailed


def test_the_customer_can_still_ask_for_another_code_after_the_reminder(
    booked_days_ahead, django_capture_on_commit_callbacks
):
    booking = booked_days_ahead
    with time_machine.travel(booking.slot_start - timedelta(minutes=60)):
        send_reminders(django_capture_on_commit_callbacks)
        last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
        with django_capture_on_commit_callbacks(execute=True):
            response = authed_client(booking.customer).post(
                f"/api/v1/bookings/{booking.pk}/resend-otp", format="json"
            )

    assert response.status_code == 202
    # confirmation, reminder, request: three codes, the newest the only one alive
    assert BookingOtp.objects.filter(booking=booking).count() == 3
    active = BookingOtp.objects.filter(booking=booking, superseded_at__isnull=True)
    assert active.count() == 1


def test_a_booking_cancelled_before_the_reminder_is_sent_gets_no_code(
    booked_days_ahead, django_capture_on_commit_callbacks
):
    booking = booked_days_ahead
    with time_machine.travel(booking.slot_start - timedelta(minutes=60)):
        assert enqueue_booking_reminders() == 1  # queued, not yet sent
        transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.CONFIRMED],
            to_status=BookingStatus.CANCELLED,
            actor_label="test",
            reason="cancelled before the day",
        )
        dispatch_outbox()

    row = OutboxMessage.objects.get(booking=booking, kind=Kind.BOOKING_REMINDER)
    assert row.status == OutboxMessage.Status.SKIPPED
    assert not [m for m in mail.outbox if m.subject.startswith("Reminder:")]
    assert BookingOtp.objects.filter(booking=booking).count() == 1
