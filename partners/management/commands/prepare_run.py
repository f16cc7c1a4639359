"""``make run``'s preparation in one process, skipping what has not changed.

Before, ``make run`` started four processes (check, migrate, collectstatic, demo data),
each importing Django and the project; every restart paid for all of it. Here each step
asks first whether it has anything to do:

- system checks: always (cheap once Django is loaded; ``runserver --skip-checks`` then);
- migrate: only when the migration plan is not empty;
- collectstatic: only when the static sources (every finder's files: path, size,
  modification time) differ from those of the last collection, or it is missing;
- demo data: only in the embedded default, and only when the last load was for another
  day (the slots cover the next week), from other demo data code, or into a database
  whose demo logins are not the ones that load left (a new database, a changed
  password), so the printed logins always work.

What was done is remembered in ``var/run-prepared.json`` (``--force`` ignores it).
"""

from __future__ import annotations

import hashlib
import json
import time
from importlib.util import find_spec
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from partners import demo_data
from partners.management.commands.load_demo_data import Command as LoadDemoData


def digest(items) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()


def static_sources_digest() -> str:
    files = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            stat = Path(storage.path(path)).stat()
            files.append((path, stat.st_size, stat.st_mtime_ns))
    return digest(sorted(files))


def demo_source_digest() -> str:
    sources = []
    for app_config in apps.get_app_configs():
        spec = find_spec(f"{app_config.name}.demo_data")
        if spec is not None and spec.origin:
            sources.append(Path(spec.origin).read_text())
    return digest(sources)


def demo_logins_digest() -> str:
    emails = [demo_data.CUSTOMER_EMAIL, demo_data.PARTNER_EMAIL, demo_data.SUPPORT_EMAIL]
    rows = get_user_model().objects.filter(email__in=emails).order_by("email")
    return digest(list(rows.values_list("pk", "email", "password", "is_active")))


class Command(BaseCommand):
    help = (
        "Prepare `make run` in one process: checks, then migrate, collectstatic and the demo "
        "data only when something changed since the last run (var/run-prepared.json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Redo every step.")

    def handle(self, *args, force: bool = False, **options):
        stamp_path = Path(settings.BASE_DIR) / "var" / "run-prepared.json"
        stamp = {} if force else self.read_stamp(stamp_path)
        database = str(settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"])
        if stamp.get("database") != database:
            stamp = {"database": database}
        started = time.monotonic()

        call_command("check")
        self.migrate()
        stamp["static"] = self.collect_static(stamp.get("static"))
        stamp["demo"] = self.load_demo_data(stamp.get("demo"))

        stamp_path.parent.mkdir(parents=True, exist_ok=True)
        stamp_path.write_text(json.dumps(stamp, indent=2))
        self.stdout.write(f"Ready in {time.monotonic() - started:.1f} s.")

    @staticmethod
    def read_stamp(path: Path) -> dict:
        try:
            stamp = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return stamp if isinstance(stamp, dict) else {}

    def migrate(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            call_command("migrate", "--noinput")
        else:
            self.stdout.write("Migrations: none to apply.")

    def collect_static(self, previous: str | None) -> str:
        sources = static_sources_digest()
        if sources == previous and Path(settings.STATIC_ROOT).is_dir():
            self.stdout.write("Static files: unchanged.")
        else:
            call_command("collectstatic", "--noinput", verbosity=0)
            self.stdout.write("Static files: collected.")
        return sources

    def load_demo_data(self, previous: dict | None) -> dict | None:
        if not settings.EMBEDDED:
            self.stdout.write("Demo data: not loaded (DATABASE_URL is set).")
            return None
        wanted = {"day": timezone.now().date().isoformat(), "source": demo_source_digest()}
        if previous and {**wanted, "logins": demo_logins_digest()} == previous:
            self.stdout.write("Demo data: loaded today, unchanged.")
            LoadDemoData(stdout=self.stdout).print_credentials()
            return previous
        call_command("load_demo_data", stdout=self.stdout)
        return {**wanted, "logins": demo_logins_digest()}
