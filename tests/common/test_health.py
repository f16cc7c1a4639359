import socket
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connections
from django.test import Client


def _closed_port() -> int:
    # A port nothing listens on: bound once by us, then released.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _database_unreachable(alias: str = "default"):
    """Replace the connection of ``alias`` with one to a closed port, then restore it."""
    real = connections[alias]
    settings_dict = {
        **real.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": str(_closed_port()),
        "OPTIONS": {**real.settings_dict.get("OPTIONS", {}), "connect_timeout": 3},
    }
    broken = real.__class__(settings_dict, alias=alias)
    connections[alias] = broken
    try:
        yield
    finally:
        broken.close()
        connections[alias] = real


@pytest.mark.django_db
def test_health_reports_database_cache_and_broker_ok(api_client):
    # The suite's broker is the real Redis of TEST_REDIS_URL.
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
    }


@pytest.mark.django_db
def test_health_reports_an_unreachable_broker_without_a_503(api_client, settings, caplog):
    # Not fatal: requests are still served and their tasks' work waits in the database
    # (outbox, refunds) for the sweeps (common/views.py says why).
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = api_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "error"},
    }
    assert "broker: cannot reach redis://127.0.0.1:" in caplog.text


@pytest.mark.django_db
def test_health_reports_the_in_process_broker_of_the_embedded_mode(api_client, settings):
    settings.CELERY_BROKER_URL = "memory://"

    response = api_client.get("/health")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "in_process"


@pytest.mark.django_db  # unblocks real connections: the failure below is the server's refusal
def test_health_is_503_when_the_database_is_down(api_client, caplog):
    with _database_unreachable():
        response = api_client.get("/health")

    failures = [r for r in caplog.records if r.getMessage() == "health: database check failed"]
    assert [r.exc_info[0] for r in failures] == [OperationalError]

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "error",
        "checks": {"database": "error", "cache": "ok", "broker": "ok"},
    }
    # The real connection is back and works.
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def test_unknown_url_is_problem_details(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_health_answers_other_methods_with_a_405_problem(method):
    # A plain Django client with CSRF checks on, like a browser or curl without a token.
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)("/health")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"].startswith("GET")


@pytest.mark.django_db
def test_health_ignores_a_bad_bearer_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert api_client.get("/health").status_code == 200
