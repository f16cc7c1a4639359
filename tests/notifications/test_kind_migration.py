"""Rows written with the former kind spellings are renamed by the data migration, and the
renamed rows still work: a pending former reminder (rendered text) is delivered as it is."""

import importlib

import pytest
from django.apps import apps
from django.core import mail
from django.utils import timezone

from notifications.delivery import deliver
from notifications.messages import KIND_PATTERN, Kind
from notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db

migration = importlib.import_module("notifications.migrations.0003_outbox_kind_spelling")


def row(kind: str, **extra) -> OutboxMessage:
    fields = {
        "channel": "email",
        "recipient": "asha@example.test",
        "subject": "Reminder: booking #1 starts at 10:00",
        "body": "Your booking #1 starts at 10:00.",
        "available_at": timezone.now(),
    }
    return OutboxMessage.objects.create(kind=kind, **{**fields, **extra})


def test_every_former_kind_is_renamed_and_other_rows_are_left_alone():
    former = {old: row(old) for old in migration.FORMER_TO_DOTTED}
    webhook = row("booking.confirmed", channel="webhook")

    migration.to_dotted(apps, None)

    for old, message in former.items():
        message.refresh_from_db()
        assert message.kind == migration.FORMER_TO_DOTTED[old]
        assert KIND_PATTERN.fullmatch(message.kind)
    webhook.refresh_from_db()
    assert webhook.kind == "booking.confirmed"

    migration.to_former(apps, None)
    assert set(OutboxMessage.objects.exclude(pk=webhook.pk).values_list("kind", flat=True)) == set(
        migration.FORMER_TO_DOTTED
    )


def test_a_pending_reminder_written_before_is_sent_with_its_text(settings):
    message = row("booking_reminder", booking=None)
    migration.to_dotted(apps, None)
    message.refresh_from_db()
    assert message.kind == Kind.BOOKING_REMINDER

    assert deliver(message.pk) is True

    assert [m.body for m in mail.outbox] == ["Your booking #1 starts at 10:00."]
