import pytest
from django.core import mail
from django.db import transaction

from bookings.models import BookingStatus
from bookings.notices import notify_customer
from notifications.messages import KIND_PATTERN, OTP_KINDS, TEMPLATES
from notifications.models import OutboxMessage
from notifications.services import Recipient, notify
from notifications.webhooks import EVENT_TYPES
from tests.factories.bookings import BookingFactory

pytestmark = pytest.mark.django_db


def test_notify_writes_rows_and_delivers_them_after_commit(django_capture_on_commit_callbacks):
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    booking.customer.phone = "+15550001"
    booking.customer.save()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rows = notify_customer(
            kind="refund.succeeded",
            booking=booking,
            context={"amount": 49950, "currency": "INR", "status": "succeeded"},
        )
    assert [r.channel for r in rows] == ["email", "sms"]
    assert all(r.status == OutboxMessage.Status.PENDING for r in rows)
    assert mail.outbox == []  # nothing is sent before commit

    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [booking.customer.email]
    assert "INR 499.50" in mail.outbox[0].body
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_notify_rows_roll_back_with_the_callers_transaction(django_capture_on_commit_callbacks):
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                notify_customer(kind="booking.cancelled", booking=booking)
                raise RuntimeError("the state change failed")
        except RuntimeError:
            pass
    assert OutboxMessage.objects.count() == 0
    assert mail.outbox == []


def test_notify_once_key_writes_the_notification_only_once():
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    first = notify_customer(kind="booking.cancelled", booking=booking, once_key="cancel:x")
    second = notify_customer(kind="booking.cancelled", booking=booking, once_key="cancel:x")
    assert len(first) == 1 and second == []
    assert OutboxMessage.objects.filter(kind="booking.cancelled").count() == 1


def test_notify_to_explicit_recipients_with_custom_text(
    sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rows = notify(
            kind="support.note",
            recipients=[Recipient(phone="+15550002")],
            context={"subject": "Hello", "message": "Your dispute was resolved."},
        )
    assert [r.channel for r in rows] == ["sms"]
    assert sms_outbox[0].to == "+15550002"
    assert sms_outbox[0].body == "Your dispute was resolved."


def test_notify_rejects_unknown_kind_without_text():
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    with pytest.raises(ValueError):
        notify_customer(kind="mystery", booking=booking)
    assert OutboxMessage.objects.count() == 0


@pytest.mark.parametrize("kind", ["booking_confirmed", "refund", "Support.Note", "note."])
def test_a_kind_not_spelled_subject_dot_event_is_refused(kind):
    with pytest.raises(ValueError, match="<subject>.<event>"):
        notify(
            kind=kind,
            recipients=[Recipient(email="someone@example.test")],
            context={"subject": "s", "message": "m"},
        )
    assert not OutboxMessage.objects.exists()


def test_every_kind_with_a_template_is_spelled_subject_dot_event():
    kinds = set(TEMPLATES) | set(OTP_KINDS) | set(EVENT_TYPES)
    assert kinds and all(KIND_PATTERN.fullmatch(kind) for kind in kinds)
