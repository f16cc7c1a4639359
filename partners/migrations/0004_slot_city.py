# Slot.city: the partner's city copied onto its slots, and the assignment index by city.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0003_slot_no_overlap"),
    ]

    operations = [
        migrations.AddField(
            model_name="slot",
            name="city",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.city",
            ),
        ),
        migrations.RunSQL(
            sql=(
                "UPDATE partners_slot SET city_id = p.city_id "
                "FROM partners_partner AS p WHERE p.id = partners_slot.partner_id"
            ),
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="slot",
            name="city",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.city",
            ),
        ),
        migrations.RemoveIndex(
            model_name="slot",
            name="slot_open_start_idx",
        ),
        migrations.AddIndex(
            model_name="slot",
            index=models.Index(
                condition=models.Q(("blocked", False), ("booked__lt", models.F("capacity"))),
                fields=["city", "start", "partner"],
                name="slot_open_city_start_idx",
            ),
        ),
    ]
