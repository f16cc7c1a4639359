"""``manage.py prepare_run`` (``make run``): one process, and each step only when
something changed since the last run."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from partners import demo_data
from partners.models import Slot

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_dirs(settings, tmp_path):
    """The stamp (BASE_DIR/var) and the collected files in a temporary directory, the
    embedded default's demo data rules."""
    settings.BASE_DIR = tmp_path
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    # Plain copies: compressing every file is whitenoise's business, not what is tested.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.EMBEDDED = True
    return tmp_path


def prepare(*args: str) -> str:
    out = io.StringIO()
    call_command("prepare_run", *args, stdout=out)
    return out.getvalue()


def test_the_first_run_does_everything_and_a_restart_skips_it(run_dirs):
    first = prepare()
    slots = Slot.objects.count()
    second = prepare()

    assert "Static files: collected." in first
    assert "Catalog:" in first and slots > 0
    assert (run_dirs / "staticfiles" / "admin").is_dir()
    assert "Static files: unchanged." in second
    assert "Demo data: loaded today, unchanged." in second
    assert "Catalog:" not in second
    assert "Migrations: none to apply." in second
    assert demo_data.CUSTOMER_EMAIL in second  # the logins are printed all the same
    assert Slot.objects.count() == slots
    stamp = json.loads((run_dirs / "var" / "run-prepared.json").read_text())
    assert set(stamp) == {"database", "static", "demo"}


def test_a_changed_demo_password_is_reset_by_the_next_run(run_dirs):
    prepare()
    customer = get_user_model().objects.get(email=demo_data.CUSTOMER_EMAIL)
    customer.set_password("changed-by-the-user-91")
    customer.save()

    again = prepare()

    assert "Catalog:" in again
    customer.refresh_from_db()
    assert customer.check_password(demo_data.DEMO_PASSWORD)


def test_the_next_day_reloads_the_demo_data_for_the_new_week(run_dirs):
    prepare()

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        next_day = prepare()

    assert "Catalog:" in next_day


def test_missing_collected_files_are_collected_again(run_dirs):
    prepare()
    (run_dirs / "staticfiles").rename(run_dirs / "gone")

    assert "Static files: collected." in prepare()


def test_force_redoes_every_step(run_dirs):
    prepare()

    forced = prepare("--force")

    assert "Static files: collected." in forced
    assert "Catalog:" in forced


def test_outside_the_embedded_default_no_demo_data_is_loaded(run_dirs, settings):
    settings.EMBEDDED = False

    output = prepare()

    assert "Demo data: not loaded (DATABASE_URL is set)." in output
    assert not Slot.objects.exists()
