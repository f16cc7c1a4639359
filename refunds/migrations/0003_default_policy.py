"""Create the default refund policy (the default tiers of docs/architecture.md) as active version 1."""

from django.db import migrations

DEFAULT_TIERS = [
    {"min_hours_before": 24, "percent": 100},
    {"min_hours_before": 12, "percent": 50},
    {"min_hours_before": 0, "percent": 0},
]


def create_default_policy(apps, schema_editor):
    RefundPolicy = apps.get_model("refunds", "RefundPolicy")
    if RefundPolicy.objects.exists():
        return
    RefundPolicy.objects.create(
        name="Default",
        version=1,
        active=True,
        tiers=DEFAULT_TIERS,
        provider_cancel_percent=100,
        unassigned_percent=100,
    )


class Migration(migrations.Migration):
    dependencies = [("refunds", "0002_constraints_and_version")]

    operations = [migrations.RunPython(create_default_policy, migrations.RunPython.noop)]
