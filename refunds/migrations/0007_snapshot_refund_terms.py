"""Existing bookings get the refund terms of the policy active at migration time (the
rule before snapshots: a booking's refund followed the active policy)."""

from django.db import migrations

DEFAULT_TIERS = [
    {"min_hours_before": 24, "percent": 100},
    {"min_hours_before": 12, "percent": 50},
    {"min_hours_before": 0, "percent": 0},
]
BATCH = 1000


def snapshot_active_policy(apps, schema_editor):
    Booking = apps.get_model("bookings", "Booking")
    RefundPolicy = apps.get_model("refunds", "RefundPolicy")
    RefundTerms = apps.get_model("refunds", "RefundTerms")
    policy = RefundPolicy.objects.filter(active=True).first()
    terms = {
        "policy_version": policy.version if policy else 1,
        "tiers": policy.tiers if policy else DEFAULT_TIERS,
        "provider_cancel_percent": policy.provider_cancel_percent if policy else 100,
        "unassigned_percent": policy.unassigned_percent if policy else 100,
    }
    missing = Booking.objects.filter(refund_terms__isnull=True).order_by("pk")
    last = 0
    while True:
        ids = list(missing.filter(pk__gt=last).values_list("pk", flat=True)[:BATCH])
        if not ids:
            return
        RefundTerms.objects.bulk_create(
            [RefundTerms(booking_id=booking_id, **terms) for booking_id in ids],
            ignore_conflicts=True,
        )
        last = ids[-1]


class Migration(migrations.Migration):
    dependencies = [("refunds", "0006_refund_terms")]

    operations = [migrations.RunPython(snapshot_active_policy, migrations.RunPython.noop)]
