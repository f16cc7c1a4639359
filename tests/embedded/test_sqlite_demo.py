"""The embedded default (`make run`: SQLite, no broker, demo data) books end to end.

The suite runs on PostgreSQL, where the assignment is a hand-written statement; SQLite
takes the ORM queryset instead, and SQLite refuses some SQL PostgreSQL accepts (an outer
column in a correlated subquery's ORDER BY, an integer times a duration). So a child
process on a fresh SQLite file walks the demo's first steps through the API: find the
best partner, book it, (the payment is the sandbox's, tested on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

SCRIPT = """
import json, uuid
import django
django.setup()
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("load_demo_data", verbosity=0)
client = Client()
token = client.post(
    "/api/v1/auth/token",
    {"email": "customer@example.com", "password": "slotwise-demo"},
    content_type="application/json",
).json()["access"]
auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
assign = client.post(
    "/api/v1/partners/assign",
    {"city": "bengaluru", "service": "home-cleaning", "variant_id": 1},
    content_type="application/json", **auth,
)
slot = assign.json()["slot"]["id"]
booking = client.post(
    "/api/v1/bookings", {"slot_id": slot, "variant_id": 1},
    content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), **auth,
)
print(json.dumps({
    "assign": [assign.status_code, assign.json()],
    "booking": [booking.status_code, booking.json()],
}))
"""


def test_the_embedded_default_assigns_and_books_on_sqlite(tmp_path: Path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(settings.BASE_DIR),
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    status, assign = result["assign"]
    assert status == 200, assign
    assert assign["partner"]["name"] and assign["price_minor"] > 0
    status, booking = result["booking"]
    assert status == 201, booking
    assert booking["status"] == "PENDING_PAYMENT"
    assert booking["amount"] == assign["price_minor"]  # the partner's own price, minor units
