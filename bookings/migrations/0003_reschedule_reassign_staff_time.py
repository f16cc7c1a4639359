"""Bookings carry their slot's time (for the staff constraint), a reschedule count and the
reassignment instant; a staff member can no longer be in two places."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

import common.constraints

STAFF_BUSY_STATUSES = ("CONFIRMED", "IN_PROGRESS", "AWAITING_COMPLETION")


def copy_slot_times(apps, schema_editor):
    Booking = apps.get_model("bookings", "Booking")
    Slot = apps.get_model("partners", "Slot")
    slots = Slot.objects.filter(pk=OuterRef("slot_id"))
    Booking.objects.update(
        slot_start=Subquery(slots.values("start")[:1]),
        slot_end=Subquery(slots.values("end")[:1]),
    )


def unassign_double_booked_staff(apps, schema_editor):
    """Existing double bookings of one staff member: the booking with the earliest start
    (then lowest id) keeps the person, the others lose the assignment (recorded on their
    timeline) for the partner to assign someone else."""
    Booking = apps.get_model("bookings", "Booking")
    BookingEvent = apps.get_model("bookings", "BookingEvent")
    busy = (
        Booking.objects.filter(status__in=STAFF_BUSY_STATUSES, assigned_staff__isnull=False)
        .order_by("assigned_staff_id", "slot_start", "id")
        .values_list("id", "assigned_staff_id", "slot_start", "slot_end")
    )
    kept: dict[int, list[tuple]] = {}
    released = []
    for booking_id, staff_id, start, end in busy.iterator():
        ranges = kept.setdefault(staff_id, [])
        if any(start < other_end and other_start < end for other_start, other_end in ranges):
            released.append((booking_id, staff_id))
        else:
            ranges.append((start, end))
    now = timezone.now()
    for booking_id, staff_id in released:
        Booking.objects.filter(pk=booking_id).update(assigned_staff=None, updated_at=now)
        BookingEvent.objects.create(
            booking_id=booking_id,
            kind="staff_unassigned",
            actor_label="system",
            reason="Staff member was double-booked; assign someone else.",
            data={"previous_staff_id": staff_id},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0002_waitlist_entry"),
        ("partners", "0003_slot_no_overlap"),
    ]

    operations = [
        migrations.AddField(
            model_name="booking",
            name="slot_start",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="booking",
            name="slot_end",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="booking",
            name="reschedule_count",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="booking",
            name="reassigned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(copy_slot_times, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="booking",
            name="slot_start",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="booking",
            name="slot_end",
            field=models.DateTimeField(),
        ),
        migrations.RunPython(unassign_double_booked_staff, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="booking",
            constraint=common.constraints.TimeRangeExclusion(
                name="booking_staff_no_overlap",
                start="slot_start",
                end="slot_end",
                equal="assigned_staff",
                condition=models.Q(
                    ("assigned_staff__isnull", False), ("status__in", STAFF_BUSY_STATUSES)
                ),
                violation_error_code="staff_busy",
                violation_error_message="The staff member has another booking at that time.",
            ),
        ),
    ]
