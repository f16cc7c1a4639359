"""Every error class of the API answers with RFC 9457 problem details and a stable code."""

import pytest
from django.test import Client

from tests.factories.accounts import CustomerFactory

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].startswith("https://")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.mark.django_db
def test_validation_error_has_per_field_errors(api_client):
    response = api_client.post("/api/v1/auth/register", {"email": "x"}, format="json")

    body = assert_problem(response, 400, "validation_error")
    assert {"email", "password", "role", "name"} <= set(body["errors"])


@pytest.mark.django_db
def test_malformed_json_is_malformed_request(api_client):
    response = api_client.post("/api/v1/auth/token", "{nope", content_type="application/json")

    assert_problem(response, 400, "malformed_request")


@pytest.mark.django_db
def test_unsupported_media_type(api_client):
    response = api_client.post("/api/v1/auth/token", "email=a", content_type="text/plain")

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_missing_token_is_401(api_client):
    assert_problem(api_client.get("/api/v1/auth/me"), 401, "not_authenticated")


@pytest.mark.django_db
def test_wrong_role_is_403(customer_client):
    assert_problem(customer_client.get("/api/v1/provider/slots"), 403, "permission_denied")


@pytest.mark.django_db
def test_missing_object_is_404(api_client):
    assert_problem(api_client.get("/api/v1/partners/987654"), 404, "partner_not_found")


def test_unknown_url_is_404_problem(client):
    assert_problem(client.get("/api/v1/no-such-endpoint"), 404, "not_found")


@pytest.mark.django_db
def test_wrong_method_is_405(api_client):
    assert_problem(api_client.get("/api/v1/auth/register"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_conflict_is_409(api_client):
    CustomerFactory(email="taken@example.test")
    payload = {
        "email": "taken@example.test",
        "password": "plum-orbit-Tundra-91",
        "role": "customer",
        "name": "T",
    }

    assert_problem(
        api_client.post("/api/v1/auth/register", payload, format="json"), 409, "email_taken"
    )


@pytest.mark.django_db
def test_throttled_is_429_with_retry_after(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "1/hour"},
    }
    api_client.post("/api/v1/auth/token", {}, format="json")

    response = api_client.post("/api/v1/auth/token", {}, format="json")

    assert_problem(response, 429, "throttled")
    assert response["Retry-After"].isdigit()


@pytest.mark.urls("tests.common.urls_boom")
def test_crash_in_an_api_view_is_a_500_problem_without_internals(api_client):
    response = api_client.get("/api/boom")

    body = assert_problem(response, 500, "server_error")
    assert b"secret internals" not in response.content
    assert "Traceback" not in body["detail"]


@pytest.mark.urls("tests.common.urls_boom")
def test_crash_outside_the_api_is_a_500_problem_not_an_html_page(client):
    client.raise_request_exception = False

    response = client.get("/boom")

    assert_problem(response, 500, "server_error")
    assert b"secret internals" not in response.content


@pytest.mark.django_db
@pytest.mark.urls("tests.common.urls_boom")
def test_input_the_database_cannot_store_is_a_400_not_a_503(api_client):
    response = api_client.get("/api/unstorable", {"slug": "pu\x00ne"})

    body = assert_problem(response, 400, "invalid_input")
    assert "\x00" not in body["detail"]


@pytest.mark.django_db
def test_csrf_failure_is_a_403_problem_not_an_html_page():
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/admin/login/", {"username": "support@example.test", "password": "whatever"}
    )

    body = assert_problem(response, 403, "csrf_failed")
    assert "CSRF" in body["detail"]
