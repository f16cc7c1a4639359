"""What a process started with a given environment gets: the log format, the metrics
access and Sentry with its integrations (sentry-sdk opens no connection at init)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

PROBE = """
import json, logging
import django
django.setup()
import sentry_sdk
from django.conf import settings
client = sentry_sdk.get_client()
handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
print(json.dumps({
    "log_format": settings.LOG_FORMAT,
    "formatter": type(handler.formatter).__module__ + "." + type(handler.formatter).__name__,
    "metrics_open": settings.METRICS_OPEN,
    "sentry_active": client.is_active(),
    "sentry_dsn": client.dsn,
    "integrations": sorted(client.integrations) if client.is_active() else [],
    "send_default_pii": client.options.get("send_default_pii"),
    "environment": client.options.get("environment"),
    "request_lines": logging.getLogger("monitoring.requests").isEnabledFor(logging.INFO),
}))
"""

MODE_VARIABLES = ("DATABASE_URL", "LOG_", "METRICS_TOKEN", "SENTRY_")


def started_with(**env: str) -> dict:
    """The probe's findings in a fresh interpreter with only ``env`` among the mode and
    observability variables (the suite itself runs in production mode)."""
    clean = {
        name: value for name, value in os.environ.items() if not name.startswith(MODE_VARIABLES)
    }
    clean.update(SECRET_KEY="settings-test-secret-key", **env)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


PRODUCTION = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused"}


def test_embedded_mode_logs_plain_text_and_serves_metrics_without_a_token():
    found = started_with()

    assert found["log_format"] == "text"
    assert found["formatter"] == "logging.Formatter"
    assert found["metrics_open"] is True
    assert found["sentry_active"] is False


def test_production_logs_json_and_closes_metrics_without_a_token():
    found = started_with(**PRODUCTION)

    assert found["log_format"] == "json"
    assert found["formatter"] == "pythonjsonlogger.json.JsonFormatter"
    assert found["metrics_open"] is False


def test_log_format_and_a_metrics_token_can_be_chosen_in_either_mode():
    assert started_with(LOG_FORMAT="json")["formatter"] == "pythonjsonlogger.json.JsonFormatter"
    assert started_with(**PRODUCTION, LOG_FORMAT="text")["log_format"] == "text"
    # A token set in the embedded mode is required there too.
    assert started_with(METRICS_TOKEN="a-token-0123456789")["metrics_open"] is False


def test_an_unknown_log_format_stops_the_start():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(MODE_VARIABLES)}
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=settings.BASE_DIR,
        env={**clean, "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text" in result.stderr


def test_sentry_starts_with_the_django_and_celery_integrations_when_a_dsn_is_set():
    dsn = "https://public-key@sentry.invalid/42"  # .invalid never resolves: nothing is sent

    found = started_with(**PRODUCTION, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="staging")

    assert found["sentry_active"] is True
    assert found["sentry_dsn"] == dsn
    assert {"django", "celery"} <= set(found["integrations"])
    assert found["send_default_pii"] is False
    assert found["environment"] == "staging"


def test_without_a_dsn_sentry_stays_off():
    assert started_with(**PRODUCTION)["sentry_active"] is False


def test_the_line_per_request_can_be_turned_off_alone():
    assert started_with(**PRODUCTION)["request_lines"] is True
    assert started_with(**PRODUCTION, LOG_REQUESTS="false")["request_lines"] is False
    # LOG_LEVEL=WARNING (the benchmark's) silences them as well.
    assert started_with(**PRODUCTION, LOG_LEVEL="WARNING")["request_lines"] is False
