"""Outbox delivery: retries, once-only under concurrency, stale claims, reminders, signals."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.tasks import enqueue_booking_reminders
from bookings.transitions import transition_booking
from conftest import authed_client
from notifications.delivery import deliver
from notifications.messages import Kind
from notifications.models import OutboxMessage
from notifications.tasks import dispatch_outbox
from otp.models import BookingOtp
from tests.concurrency import run_concurrently
from tests.factories.bookings import BookingFactory
from tests.factories.otp import confirmed_booking, last_code, staff_of
from tests.factories.partners import SlotFactory
from tests.notifications.backends import FailingEmailBackend

pytestmark = pytest.mark.django_db

FAILING = {"default": {"BACKEND": "tests.notifications.backends.FailingEmailBackend"}}


def pending_email(**kwargs) -> OutboxMessage:
    fields = {
        "channel": "email",
        "kind": "note",
        "recipient": "someone@example.test",
        "subject": "Hello",
        "body": "A message",
        "available_at": timezone.now(),
    }
    return OutboxMessage.objects.create(**{**fields, **kwargs})


def test_a_failed_send_is_retried_after_backoff_and_delivered_once(settings):
    settings.MAILERS = FAILING
    FailingEmailBackend.reset(failures=1)
    message = pending_email()

    assert deliver(message.pk) is False
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert message.attempts == 1
    assert message.available_at > timezone.now()
    assert message.last_error == "SMTPServerDisconnected on attempt 1"
    assert mail.outbox == []

    assert dispatch_outbox() == 0  # not due yet
    with time_machine.travel(message.available_at + timedelta(seconds=1)):
        assert dispatch_outbox() == 1
        assert dispatch_outbox() == 0
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxMessage.Status.SENT, 2)
    assert [m.to for m in mail.outbox] == [["someone@example.test"]]


def test_a_message_fails_for_good_after_the_last_attempt_and_admin_retry_requeues_it(
    settings, admin_client, django_capture_on_commit_callbacks
):
    settings.MAILERS = FAILING
    settings.OUTBOX_MAX_ATTEMPTS = 2
    FailingEmailBackend.reset(failures=2)
    message = pending_email()
    deliver(message.pk)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        deliver(message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxMessage.Status.FAILED, 2)
    with time_machine.travel(timezone.now() + timedelta(hours=4)):
        assert dispatch_outbox() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/notifications/outboxmessage/",
            {"action": "retry_failed", "_selected_action": [message.pk]},
        )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert len(mail.outbox) == 1


def test_a_failed_code_message_is_retried_with_a_fresh_code(
    settings, django_capture_on_commit_callbacks
):
    settings.MAILERS = FAILING
    FailingEmailBackend.reset(failures=2)  # the "confirmed" email, then the code email
    with django_capture_on_commit_callbacks(execute=True):
        booking = confirmed_booking()
    row = OutboxMessage.objects.get(booking=booking, kind="otp.arrival")
    assert row.status == OutboxMessage.Status.PENDING
    with time_machine.travel(row.available_at + timedelta(seconds=1)):
        assert dispatch_outbox() == 2
    code = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
    otps = BookingOtp.objects.filter(booking=booking).order_by("id")
    assert [o.superseded_at is None for o in otps] == [False, True]
    assert "code" not in row.last_error and code not in OutboxMessage.objects.get(pk=row.pk).body


def test_a_retried_old_code_message_does_not_kill_the_newer_code(
    settings, django_capture_on_commit_callbacks
):
    settings.MAILERS = FAILING
    FailingEmailBackend.reset(failures=2)  # the "confirmed" email, then the first code email
    with django_capture_on_commit_callbacks(execute=True):
        booking = confirmed_booking()
    old_row = OutboxMessage.objects.get(booking=booking, kind="otp.arrival")
    assert old_row.status == OutboxMessage.Status.PENDING  # waiting for its retry
    with django_capture_on_commit_callbacks(execute=True):
        response = authed_client(booking.customer).post(f"/api/v1/bookings/{booking.pk}/resend-otp")
    assert response.status_code == 202
    newer = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)

    with time_machine.travel(old_row.available_at + timedelta(seconds=1)):
        dispatch_outbox()
    old_row.refresh_from_db()
    assert old_row.status == OutboxMessage.Status.SKIPPED
    assert "newer arrival code" in old_row.last_error
    assert last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk) == newer
    assert BookingOtp.objects.filter(booking=booking, superseded_at__isnull=True).count() == 1
    booking.assigned_staff = staff_of(booking.partner)
    booking.save()
    response = authed_client(booking.partner.user).post(
        f"/api/v1/provider/bookings/{booking.pk}/confirm-arrival", {"otp": newer}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_send_each_message_once():
    messages = [pending_email(recipient=f"r{i}@example.test") for i in range(3)]

    sent = run_concurrently(4, lambda _: dispatch_outbox())

    assert sum(sent) == 3
    assert sorted(m.to[0] for m in mail.outbox) == [m.recipient for m in messages]
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_stale_claim_of_a_crashed_worker_is_reclaimed_but_a_live_one_is_not():
    now = timezone.now()
    stale = pending_email(status="sending", claimed_at=now - timedelta(minutes=6), attempts=1)
    live = pending_email(status="sending", claimed_at=now - timedelta(minutes=1), attempts=1)
    assert dispatch_outbox() == 1
    stale.refresh_from_db()
    live.refresh_from_db()
    assert (stale.status, stale.attempts) == ("sent", 2)
    assert (live.status, live.attempts) == ("sending", 1)
    assert [m.to for m in mail.outbox] == [[stale.recipient]]


def test_a_row_whose_enqueue_was_lost_is_sent_by_the_sweep(django_capture_on_commit_callbacks):
    # The on_commit hook never ran (crash between commit and enqueue): the beat sweep sends.
    with django_capture_on_commit_callbacks(execute=False):
        booking = confirmed_booking()
    assert mail.outbox == []
    assert dispatch_outbox() == 2
    assert {m.subject for m in mail.outbox} == {
        f"Booking #{booking.pk} confirmed",
        f"Your arrival code for booking #{booking.pk}",
    }


def test_a_code_message_for_a_booking_that_moved_on_is_skipped(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        booking = confirmed_booking()
        transition_booking(
            booking_id=booking.pk,
            from_statuses=["CONFIRMED"],
            to_status="CANCELLED",
            release_seats=True,
            reason="customer changed plans",
        )
    dispatch_outbox()
    row = OutboxMessage.objects.get(kind="otp.arrival")
    assert row.status == OutboxMessage.Status.SKIPPED
    assert not BookingOtp.objects.exists()
    cancelled = [m for m in mail.outbox if "cancelled" in m.subject]
    assert len(cancelled) == 1 and "customer changed plans" in cancelled[0].body


def test_completion_code_goes_to_the_assigned_staff_by_email_and_sms(
    sms_outbox, django_capture_on_commit_callbacks
):
    booking = BookingFactory(status=BookingStatus.IN_PROGRESS)
    staff = staff_of(booking.partner, phone="+15550123")
    booking.assigned_staff = staff
    booking.save()
    with django_capture_on_commit_callbacks(execute=True):
        transition_booking(
            booking_id=booking.pk, from_statuses=["IN_PROGRESS"], to_status="AWAITING_COMPLETION"
        )
    email_code = last_code(mail.outbox, to=staff.email, booking_id=booking.pk)
    assert last_code(sms_outbox, to="+15550123", booking_id=booking.pk) == email_code
    assert booking.customer.email not in [m.to[0] for m in mail.outbox]


def test_reminders_are_queued_once_for_bookings_starting_soon():
    soon = BookingFactory(
        status=BookingStatus.CONFIRMED, slot=SlotFactory(start=timezone.now() + timedelta(hours=1))
    )
    later = BookingFactory(
        status=BookingStatus.CONFIRMED, slot=SlotFactory(start=timezone.now() + timedelta(hours=5))
    )
    BookingFactory(
        status=BookingStatus.CANCELLED, slot=SlotFactory(start=timezone.now() + timedelta(hours=1))
    )
    assert enqueue_booking_reminders() == 1
    assert enqueue_booking_reminders() == 0
    reminders = OutboxMessage.objects.filter(kind=Kind.BOOKING_REMINDER)
    assert [r.booking_id for r in reminders] == [soon.pk]
    assert reminders[0].recipient == soon.customer.email
    assert not OutboxMessage.objects.filter(booking=later).exists()


def test_mark_complete_without_any_reachable_contact_still_moves_and_resend_is_409(
    django_capture_on_commit_callbacks,
):
    from conftest import authed_client

    booking = BookingFactory(status=BookingStatus.IN_PROGRESS)
    staff = staff_of(booking.partner, phone="", email="")
    booking.assigned_staff = staff
    booking.save()
    partner_user = booking.partner.user
    client = authed_client(partner_user)
    partner_user.email = ""  # not realistic for a login, but nobody is reachable now
    partner_user.save()
    path = f"/api/v1/provider/bookings/{booking.pk}/mark-complete"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(path).status_code == 200
        response = client.post(path)
    assert response.status_code == 409
    assert response.json()["code"] == "otp_no_recipient"
    assert not OutboxMessage.objects.filter(kind="otp.completion").exists()
