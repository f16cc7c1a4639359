"""One spelling for every outbox kind: ``<subject>.<event>``, like the partner webhooks'
event types. Existing rows are renamed in one UPDATE (the mapping is frozen here, as a
migration must not follow later changes of notifications.messages)."""

from django.db import migrations, models
from django.db.models import Case, Value, When

FORMER_TO_DOTTED = {
    "booking_confirmed": "booking.confirmed",
    "booking_reminder": "booking.reminder",
    "booking_cancelled": "booking.cancelled",
    "booking_rescheduled": "booking.rescheduled",
    "booking_reassigned": "booking.reassigned",
    "refund": "refund.succeeded",
    "waitlist_offer": "waitlist.offer",
    "otp_arrival": "otp.arrival",
    "otp_completion": "otp.completion",
}


def rename(apps, mapping):
    OutboxMessage = apps.get_model("notifications", "OutboxMessage")
    OutboxMessage.objects.filter(kind__in=list(mapping)).update(
        kind=Case(*(When(kind=old, then=Value(new)) for old, new in mapping.items()))
    )


def to_dotted(apps, schema_editor):
    rename(apps, FORMER_TO_DOTTED)


def to_former(apps, schema_editor):
    rename(apps, {new: old for old, new in FORMER_TO_DOTTED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_outbox_dedupe_key_skipped"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxmessage",
            name="kind",
            field=models.CharField(
                help_text="<subject>.<event>: booking.confirmed, otp.arrival, ...", max_length=64
            ),
        ),
        migrations.RunPython(to_dotted, to_former),
    ]
