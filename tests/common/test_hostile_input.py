"""Hostile request bodies and query values: a clear 4xx problem, never a 500 (issue 13)."""

import json

import pytest
from django.test import override_settings

from tests.common.test_problem_details import assert_problem


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/auth/token", "/webhooks/razorpay", "/webhooks/stripe", "/webhooks/sandbox"]
)
def test_a_body_over_the_limit_is_413_payload_too_large(api_client, path):
    body = json.dumps({"email": "a@example.com", "password": "x" * (5 * 1024 * 1024)})

    response = api_client.post(path, body, content_type="application/json")

    assert_problem(response, 413, "payload_too_large")


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_the_body_limit_is_a_setting(api_client):
    body = json.dumps({"email": "a@example.com", "password": "x" * 200})

    response = api_client.post("/api/v1/auth/token", body, content_type="application/json")

    assert_problem(response, 413, "payload_too_large")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/auth/register"])
def test_deeply_nested_json_is_400_malformed_request(api_client, path):
    body = "[" * 100_000 + "]" * 100_000

    response = api_client.post(path, body, content_type="application/json")

    assert_problem(response, 400, "malformed_request")


@pytest.mark.django_db
def test_a_non_numeric_content_length_is_400(client):
    response = client.generic(
        "POST",
        "/api/v1/auth/token",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH="lots",
    )

    assert response.status_code == 400
