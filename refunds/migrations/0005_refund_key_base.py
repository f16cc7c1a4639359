from django.db import migrations, models
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat


def keep_the_keys_already_sent(apps, schema_editor):
    """Refunds made before the key had a namespace keep the key they were sent with
    (``slotwise-refund-<id>``): a refund in flight now must not change its key, or a
    retry after a lost answer would refund twice."""
    Refund = apps.get_model("refunds", "Refund")
    Refund.objects.filter(key_base="").update(
        key_base=Concat(Value("slotwise-refund-"), Cast("id", CharField()))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0004_refund_key_round"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="key_base",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.RunPython(keep_the_keys_already_sent, migrations.RunPython.noop),
    ]
