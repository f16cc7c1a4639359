from unittest import mock

import pytest
from django.db.utils import OperationalError


@pytest.mark.django_db
def test_health_reports_database_and_cache_ok(api_client):
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


@pytest.mark.django_db
def test_health_is_503_when_the_database_is_down(api_client):
    # Simulate the database refusing connections at the driver boundary.
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor",
        side_effect=OperationalError("connection refused"),
    ):
        response = api_client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error"


def test_unknown_url_is_problem_details(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
