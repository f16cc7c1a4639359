"""Under gunicorn each worker process counts its own requests: with
PROMETHEUS_MULTIPROC_DIR shared, a scrape answered by any of them adds all of them up."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys

from django.conf import settings

from tests.monitoring.conftest import parse, value

# A worker process: Django loaded, one request answered (a 404: no database needed).
SERVE_ONE_REQUEST = """
import django
django.setup()
from django.test import Client
assert Client().get("/no/such/page").status_code == 404
"""

# What the /metrics view of any process exposes of the request metrics.
EXPOSE = """
import django
django.setup()
from prometheus_client import generate_latest
from monitoring.views import process_registry
print(generate_latest(process_registry()).decode())
"""


def run(code: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_request_metrics_of_every_process_add_up_in_one_scrape(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _worker in range(2):
        run(SERVE_ONE_REQUEST, env)

    samples = parse(run(EXPOSE, env))

    labels = {"view": "<unmatched>", "method": "GET", "status": "404"}
    assert value(samples, "slotwise_http_request_duration_seconds_count", **labels) == 2
    # Each process wrote its own file; none of them is this test's process.
    assert len(list(tmp_path.glob("histogram_*.db"))) == 2


def test_gunicorn_starts_with_an_empty_metrics_directory(tmp_path, monkeypatch):
    # Files of a previous run would be added to this one's figures.
    (tmp_path / "histogram_4242.db").write_bytes(b"left by the last run")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = runpy.run_path(str(settings.BASE_DIR / "gunicorn.conf.py"))

    config["on_starting"](server=None)

    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]
