"""Production needs a real SMS backend named on purpose, and Twilio its credentials. The
settings are imported in a fresh interpreter: this process runs with SMS_BACKEND set (see
the Makefile), so its own settings cannot show what a bare production start gets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from django.conf import settings as django_settings

PRODUCTION = {"DATABASE_URL": "postgres://slotwise@db.invalid:5432/slotwise"}
TWILIO = {
    "SMS_BACKEND": "notifications.sms.TwilioSmsBackend",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+15005550006",
}
PRINT = (
    "import json, config.settings as s; print(json.dumps({'SMS_BACKEND': s.SMS_BACKEND, "
    "'TWILIO_API_BASE': s.TWILIO_API_BASE, 'ANYMAIL': s.ANYMAIL}))"
)


def start(**env: str) -> subprocess.CompletedProcess:
    clean = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL"
        and not name.startswith(("SMS_", "TWILIO_", "MAILGUN_", "POSTMARK_"))
    }
    clean.update(SECRET_KEY="settings-test-secret-key", **env)
    return subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=django_settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def started(**env: str) -> dict:
    result = start(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_embedded_default_prints_sms_on_the_console():
    assert started()["SMS_BACKEND"] == "notifications.sms.ConsoleSmsBackend"


def test_production_without_an_sms_backend_refuses_to_start():
    result = start(**PRODUCTION)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SMS_BACKEND must be set" in result.stderr


def test_production_with_an_empty_sms_backend_as_copied_from_env_example_refuses_to_start():
    result = start(**PRODUCTION, SMS_BACKEND="")

    assert result.returncode != 0
    assert "SMS_BACKEND must be set" in result.stderr


def test_production_may_name_the_console_backend_on_purpose():
    chosen = started(**PRODUCTION, SMS_BACKEND="notifications.sms.ConsoleSmsBackend")

    assert chosen["SMS_BACKEND"] == "notifications.sms.ConsoleSmsBackend"


def test_production_with_twilio_and_its_credentials_starts_against_the_real_api():
    chosen = started(**PRODUCTION, **TWILIO)

    assert chosen["SMS_BACKEND"] == "notifications.sms.TwilioSmsBackend"
    assert chosen["TWILIO_API_BASE"] == "https://api.twilio.com"


def test_twilio_without_a_sender_refuses_to_start():
    result = start(**PRODUCTION, **{**TWILIO, "TWILIO_FROM_NUMBER": ""})

    assert result.returncode != 0
    assert "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID" in result.stderr


def test_anymail_gets_only_the_provider_keys_that_are_set():
    chosen = started(POSTMARK_SERVER_TOKEN="pm-token", MAILGUN_API_KEY="")

    assert chosen["ANYMAIL"] == {"POSTMARK_SERVER_TOKEN": "pm-token", "REQUESTS_TIMEOUT": 30}


def test_compose_refuses_to_start_without_an_sms_backend():
    # The .env copied from .env.example leaves SMS_BACKEND empty: compose says so at once
    # instead of every container failing its settings import.
    compose = Path(django_settings.BASE_DIR) / "docker-compose.yml"
    services = yaml.safe_load(compose.read_text())["services"]

    named = {
        name: service["environment"]["SMS_BACKEND"]
        for name, service in services.items()
        if "SMS_BACKEND" in (service.get("environment") or {})
    }

    assert {"web", "worker", "beat", "migrate"} <= set(named)
    for name, value in named.items():
        assert re.fullmatch(r"\$\{SMS_BACKEND:\?[^}]+\}", value), (name, value)
