# Partners' own prices: PartnerOffering replaces the Partner.services list. Every partner
# gets an offering of each variant of the services it served, at the variant's current
# price, so bookings of a live database go on exactly as before the migration.

import django.db.models.deletion
from django.db import migrations, models

import partners.models


def offerings_from_services(apps, schema_editor):
    Partner = apps.get_model("partners", "Partner")
    ServiceVariant = apps.get_model("partners", "ServiceVariant")
    PartnerOffering = apps.get_model("partners", "PartnerOffering")
    Through = Partner.services.through
    variants_by_service: dict[int, list] = {}
    for variant in ServiceVariant.objects.all():
        variants_by_service.setdefault(variant.service_id, []).append(variant)
    batch = []
    for link in Through.objects.all().iterator():
        for variant in variants_by_service.get(link.service_id, []):
            batch.append(
                PartnerOffering(
                    partner_id=link.partner_id,
                    variant_id=variant.pk,
                    service_id=variant.service_id,
                    price_minor=max(variant.price_minor, 1),
                    currency=variant.currency,
                )
            )
        if len(batch) >= 5000:
            PartnerOffering.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    PartnerOffering.objects.bulk_create(batch, ignore_conflicts=True)


def services_from_offerings(apps, schema_editor):
    Partner = apps.get_model("partners", "Partner")
    PartnerOffering = apps.get_model("partners", "PartnerOffering")
    Through = Partner.services.through
    pairs = set(PartnerOffering.objects.values_list("partner_id", "variant__service_id"))
    Through.objects.bulk_create(
        [Through(partner_id=p, service_id=s) for p, s in pairs], ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0004_slot_city"),
    ]

    operations = [
        migrations.AddField(
            model_name="city",
            name="currency",
            field=models.CharField(blank=True, max_length=3),
        ),
        migrations.AlterField(
            model_name="servicevariant",
            name="price_minor",
            field=models.PositiveIntegerField(
                help_text="List price in minor units (paise, cents); partners set their own."
            ),
        ),
        migrations.CreateModel(
            name="PartnerOffering",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "price_minor",
                    models.PositiveIntegerField(
                        help_text="Price in minor units (paise, cents).",
                        validators=[partners.models.validate_price_minor],
                    ),
                ),
                ("currency", models.CharField(max_length=3)),
                ("active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="offerings",
                        to="partners.partner",
                    ),
                ),
                (
                    "variant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="offerings",
                        to="partners.servicevariant",
                    ),
                ),
                (
                    "service",
                    models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="partners.service",
                    ),
                ),
            ],
            options={
                "ordering": ["partner_id", "variant_id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("partner", "variant"), name="offering_unique_variant"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("price_minor__gt", 0)), name="offering_price_positive"
                    ),
                ],
                "indexes": [
                    models.Index(
                        condition=models.Q(("active", True)),
                        fields=["partner", "service"],
                        name="offering_partner_service_idx",
                    ),
                ],
            },
        ),
        migrations.RunPython(offerings_from_services, services_from_offerings),
        migrations.RemoveField(
            model_name="partner",
            name="services",
        ),
    ]
