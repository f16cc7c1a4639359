"""The beat schedule (``config/celery.py``) names only tasks a worker really registers."""

import json
import subprocess
import sys
from pathlib import Path

from bookings.tasks import expire_holds
from common.tasks import purge_expired_idempotency_keys
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]

# What a worker or beat does on start: load the Celery app, then import every installed
# app's task module (autodiscovery). A fresh process, so nothing this test session has
# already imported can make a task look registered.
REGISTERED_TASKS_PROBE = """
import json
from config.celery import app
app.loader.import_default_modules()
print(json.dumps(sorted(app.tasks)))
"""


def _tasks_registered_after_autodiscovery() -> set[str]:
    probe = subprocess.run(
        [sys.executable, "-c", REGISTERED_TASKS_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(probe.stdout.strip().splitlines()[-1]))


def test_every_beat_entry_names_a_task_registered_by_autodiscovery():
    schedule = app.conf.beat_schedule
    registered = _tasks_registered_after_autodiscovery()

    unknown = {
        name: entry["task"] for name, entry in schedule.items() if entry["task"] not in registered
    }
    assert schedule
    assert unknown == {}


def test_hold_expiry_and_idempotency_key_purge_are_scheduled():
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}

    assert expire_holds.name in scheduled
    assert purge_expired_idempotency_keys.name in scheduled
