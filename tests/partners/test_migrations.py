"""Migrating a live database: what existed before keeps working after the migration."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_OFFERINGS = [("partners", "0004_slot_city")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_partners_get_offerings_of_what_they_served_at_the_current_list_price():
    old = _migrate(BEFORE_OFFERINGS)
    City, Service = old.get_model("partners", "City"), old.get_model("partners", "Service")
    Variant, Partner = (
        old.get_model("partners", "ServiceVariant"),
        old.get_model("partners", "Partner"),
    )
    city = City.objects.create(name="Pune", slug="pune", time_zone="Asia/Kolkata")
    cleaning = Service.objects.create(name="Cleaning", slug="cleaning")
    yoga = Service.objects.create(name="Yoga", slug="yoga")
    basic = Variant.objects.create(service=cleaning, name="Basic", tier="basic", price_minor=49900)
    deep = Variant.objects.create(
        service=cleaning, name="Deep", tier="premium", price_minor=89900, currency="USD"
    )
    Variant.objects.create(service=yoga, name="Class", tier="basic", price_minor=30000)
    cleaner = Partner.objects.create(name="Cleaner", city=city)
    cleaner.services.add(cleaning)
    Partner.objects.create(name="Idle", city=city)

    new = _migrate(_latest())

    Offering = new.get_model("partners", "PartnerOffering")
    assert set(
        Offering.objects.values_list(
            "partner_id", "variant_id", "price_minor", "currency", "active"
        )
    ) == {
        (cleaner.pk, basic.pk, 49900, "INR", True),
        (cleaner.pk, deep.pk, 89900, "USD", True),
    }
