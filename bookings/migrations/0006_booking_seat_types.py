# The seat type of a booking and of a waitlist entry; existing ones are `standard`, the
# seat type partners.0006 gives every existing slot.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0005_booking_counts_as_pending'),
        ('partners', '0006_slot_seat_types'),
    ]

    operations = [
        migrations.AddField(
            model_name='booking',
            name='seat_type',
            field=models.SlugField(db_index=False, default='standard', max_length=32),
        ),
        migrations.AddField(
            model_name='waitlistentry',
            name='seat_type',
            field=models.SlugField(db_index=False, default='standard', max_length=32),
        ),
    ]
