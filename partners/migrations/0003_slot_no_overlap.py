"""Slots of one partner never overlap: an exclusion constraint (btree_gist) replaces the
Python check of ``create_slots`` and the admin form."""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

import common.constraints

OVERLAPS = """
SELECT a.partner_id, a.id, b.id
FROM partners_slot AS a
JOIN partners_slot AS b
  ON b.partner_id = a.partner_id AND b.id > a.id AND b.start < a."end" AND a.start < b."end"
ORDER BY a.partner_id, a.id, b.id
LIMIT 50
"""


def refuse_overlapping_slots(apps, schema_editor):
    """Overlapping slots could only come from a race the old Python check missed. Which of
    two booked slots should move is a business decision, not a migration's: list them."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(OVERLAPS)
        pairs = cursor.fetchall()
    if pairs:
        listed = ", ".join(f"partner {p}: slots {a} and {b}" for p, a, b in pairs)
        raise RuntimeError(
            "Cannot add the constraint slot_no_overlap: some slots overlap. Shorten, delete "
            f"or move one slot of each pair, then migrate again. {listed}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_city_time_zone_validator"),
    ]

    operations = [
        BtreeGistExtension(),
        migrations.RunPython(refuse_overlapping_slots, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="slot",
            constraint=common.constraints.TimeRangeExclusion(
                name="slot_no_overlap",
                start="start",
                end="end",
                equal="partner",
                violation_error_code="slot_overlap",
                violation_error_message="This slot overlaps another slot of the partner.",
            ),
        ),
    ]
