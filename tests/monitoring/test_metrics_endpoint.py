"""``/metrics``: who may scrape it, and the request latency by view."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.monitoring.conftest import METRICS_TOKEN, parse, value

pytestmark = pytest.mark.django_db

LATENCY = "slotwise_http_request_duration_seconds"


def test_without_a_token_configured_production_refuses_every_scrape(client, settings):
    # The suite runs in production mode (DATABASE_URL set) and sets no METRICS_TOKEN.
    assert settings.METRICS_OPEN is False
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "metrics_disabled"
    assert b"slotwise_" not in response.content


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer"],
)
def test_a_scrape_without_the_right_token_is_401(client, settings, authorization):
    settings.METRICS_TOKEN = METRICS_TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["code"] == "not_authenticated"
    assert b"slotwise_" not in response.content


def test_the_embedded_mode_without_a_token_is_open(client, settings):
    settings.METRICS_OPEN = True
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics")

    assert response.status_code == 200
    assert ("slotwise_booking_holds_expired_total", frozenset()) in parse(response.content.decode())


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_are_a_405_problem(settings, method):
    settings.METRICS_TOKEN = METRICS_TOKEN
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_request_latency_is_observed_by_view_method_and_status(scrape, api_client):
    health = {"view": "health", "method": "GET", "status": "200"}
    unmatched = {"view": "<unmatched>", "method": "GET", "status": "404"}
    before = scrape()

    api_client.get("/health")
    api_client.get("/health")
    api_client.get("/no/such/page/1")
    api_client.get("/no/such/page/2")
    after = scrape()

    assert (
        value(after, f"{LATENCY}_count", **health)
        == value(before, f"{LATENCY}_count", **health) + 2
    )
    assert value(after, f"{LATENCY}_bucket", le="+Inf", **health) == value(
        after, f"{LATENCY}_count", **health
    )
    assert value(after, f"{LATENCY}_sum", **health) > value(before, f"{LATENCY}_sum", **health)
    # Unknown paths share one series: a scanner cannot blow up the number of series.
    assert (
        value(after, f"{LATENCY}_count", **unmatched)
        == value(before, f"{LATENCY}_count", **unmatched) + 2
    )
    assert not [labels for name, labels in after if name.startswith(LATENCY) and any(
        "/no/such" in label_value for _, label_value in labels
    )]  # fmt: skip


def test_a_routed_api_view_is_labelled_with_its_url_name(scrape, customer_client):
    before = scrape()

    assert customer_client.get("/api/v1/bookings").status_code == 200

    labels = {"view": "booking-list", "method": "GET", "status": "200"}
    assert value(scrape(), f"{LATENCY}_count", **labels) == (
        value(before, f"{LATENCY}_count", **labels) + 1
    )


def test_the_request_metrics_add_no_sql(settings, customer_client):
    """The middleware runs the same statements as a stack without it."""

    def statements() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert customer_client.get("/api/v1/bookings").status_code == 200
        return [query["sql"] for query in captured.captured_queries]

    with_metrics = statements()
    settings.MIDDLEWARE = [
        name
        for name in settings.MIDDLEWARE
        if name != "monitoring.middleware.RequestMetricsMiddleware"
    ]
    without = statements()

    assert with_metrics == without
