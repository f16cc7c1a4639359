"""Read replicas (config.db_router) and the database connection settings.

The replica alias here is a second connection to the test database itself (what
``TEST: {"MIRROR": "default"}`` gives a configured replica; tests/config/conftest.py adds
it), and the router is installed for these tests only. A second connection sees only
committed rows, so the tests that read through it use ``transaction=True``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from config.db_router import REPLICA, replica_reads
from partners.models import Service, Slot
from tests.factories.accounts import UserFactory
from tests.factories.partners import (
    PartnerFactory,
    ServiceFactory,
    ServiceVariantFactory,
    SlotFactory,
)

ROUTER = "config.db_router.ReplicaRouter"


pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


@pytest.fixture
def replica(settings):
    """The router installed; the ``replica`` alias comes from tests/config/conftest.py."""
    settings.DATABASE_ROUTERS = [ROUTER]
    return connections[REPLICA]


def _tables(queries) -> str:
    return " ".join(query["sql"] for query in queries)


def test_catalog_reads_go_to_the_replica_only_inside_replica_reads(replica):
    ServiceFactory(slug="yoga")

    assert Service.objects.all().db == "default"
    with replica_reads():
        assert Service.objects.all().db == REPLICA
        with CaptureQueriesContext(replica) as on_replica:
            assert [s.slug for s in Service.objects.all()] == ["yoga"]
    assert len(on_replica) == 1
    assert Service.objects.all().db == "default"


def test_writes_and_other_apps_stay_on_the_primary_inside_replica_reads(replica):
    with replica_reads():
        service = ServiceFactory(slug="plumbing")
        user = UserFactory()
        assert service._state.db == "default"
        assert type(user).objects.all().db == "default"  # accounts: not a catalog app


def test_public_catalog_endpoints_read_from_the_replica(replica):
    partner = PartnerFactory(verified=True, active=True)
    slot = SlotFactory(partner=partner)
    client = APIClient()

    with (
        CaptureQueriesContext(replica) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        services = client.get("/api/v1/services")
        slots = client.get(f"/api/v1/partners/{partner.pk}/slots")

    assert services.status_code == 200
    assert slots.status_code == 200
    assert [row["id"] for row in slots.json()["results"]] == [slot.pk]
    assert "partners_service" in _tables(on_replica)
    assert "partners_slot" in _tables(on_replica)
    assert "partners_" not in _tables(on_primary)


def test_a_booking_never_reads_from_the_replica(replica):
    variant = ServiceVariantFactory()
    partner = PartnerFactory(services=[variant.service])
    slot = SlotFactory(partner=partner)
    client = APIClient()
    client.force_authenticate(UserFactory())

    with CaptureQueriesContext(replica) as on_replica:
        response = client.post(
            "/api/v1/bookings", {"slot_id": slot.pk, "variant_id": variant.pk}, format="json"
        )

    assert response.status_code == 201, response.content
    assert len(on_replica) == 0
    assert Slot.objects.get(pk=slot.pk).booked == 1


# --- settings ---------------------------------------------------------------------------------

PRINT_DATABASE_SETTINGS = """
import json
from django.conf import settings
import django
django.setup()
print(json.dumps({
    "databases": {
        alias: {
            "CONN_MAX_AGE": db["CONN_MAX_AGE"],
            "CONN_HEALTH_CHECKS": db.get("CONN_HEALTH_CHECKS"),
            "pool": db.get("OPTIONS", {}).get("pool"),
            "mirror": db.get("TEST", {}).get("MIRROR"),
            "server_side_cursors_off": db.get("DISABLE_SERVER_SIDE_CURSORS"),
        }
        for alias, db in settings.DATABASES.items()
    },
    "routers": settings.DATABASE_ROUTERS,
}))
"""


def _database_settings(**env: str) -> dict:
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "DB_"))
    }
    clean.update(
        DATABASE_URL="postgres://slotwise@db.invalid:5432/slotwise",
        SECRET_KEY="settings-test-secret-key",
        DJANGO_SETTINGS_MODULE="config.settings",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", PRINT_DATABASE_SETTINGS],
        cwd=django_settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.django_db(databases=[])
def test_by_default_one_primary_with_persistent_health_checked_connections():
    found = _database_settings()

    assert found["routers"] == []
    assert found["databases"] == {
        "default": {
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "pool": None,
            "mirror": None,
            "server_side_cursors_off": False,
        }
    }


@pytest.mark.django_db(databases=[])
def test_a_replica_url_adds_the_replica_alias_and_the_router():
    found = _database_settings(DATABASE_REPLICA_URL="postgres://ro@replica.invalid/slotwise")

    assert found["routers"] == [ROUTER]
    assert found["databases"]["replica"]["mirror"] == "default"


@pytest.mark.django_db(databases=[])
def test_the_pool_and_pgbouncer_settings_are_configurable():
    found = _database_settings(
        DB_POOL="true",
        DB_POOL_MAX_SIZE="16",
        DB_DISABLE_SERVER_SIDE_CURSORS="true",
        DATABASE_REPLICA_URL="postgres://ro@replica.invalid/slotwise",
    )

    for database in found["databases"].values():
        assert database["CONN_MAX_AGE"] == 0
        assert database["pool"] == {"min_size": 2, "max_size": 16, "timeout": 10}
        assert database["server_side_cursors_off"] is True
