# Seat types of a slot. Every existing slot gets one `standard` seat type holding its
# capacity and booked seats, so its bookings (seat_type `standard`) release into it.

import django.db.models.deletion
import partners.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0005_partner_offerings'),
    ]

    operations = [
        migrations.CreateModel(
            name='SlotSeatType',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(db_index=False, max_length=32)),
                ('label', models.CharField(blank=True, max_length=64)),
                ('capacity', models.PositiveIntegerField()),
                ('booked', models.PositiveIntegerField(default=0)),
                ('price_minor', models.PositiveIntegerField(blank=True, help_text="Price per seat in minor units; empty: the partner's offering price.", null=True, validators=[partners.models.validate_price_minor])),
                ('slot', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='seat_types', to='partners.slot')),
            ],
            options={
                'ordering': ['slot_id', 'id'],
                'constraints': [models.UniqueConstraint(fields=('slot', 'code'), name='seat_type_unique_code'), models.CheckConstraint(condition=models.Q(('booked__gte', 0), ('booked__lte', models.F('capacity'))), name='seat_type_booked_within_capacity'), models.CheckConstraint(condition=models.Q(('capacity__gte', 1)), name='seat_type_capacity_positive'), models.CheckConstraint(condition=models.Q(('price_minor__isnull', True), ('price_minor__gt', 0), _connector='OR'), name='seat_type_price_positive')],
            },
        ),
        migrations.RunSQL(
            sql=(
                "INSERT INTO partners_slotseattype (slot_id, code, label, capacity, booked) "
                "SELECT id, 'standard', 'Standard', capacity, booked FROM partners_slot"
            ),
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
