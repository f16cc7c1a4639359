"""A user's own account: profile changes, logout (refresh token blacklisted) and
password change (old password required, other sessions' refresh tokens revoked)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User
from accounts.tasks import purge_expired_refresh_tokens
from conftest import authed_client
from tests.factories.accounts import TEST_PASSWORD, CustomerFactory
from tests.factories.partners import CityFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "violet-Harbour-kettle-73"


def log_in(email: str, password: str = TEST_PASSWORD) -> dict:
    response = APIClient().post(
        "/api/v1/auth/token", {"email": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- PATCH /auth/me ---------------------------------------------------------------------------


def test_a_user_changes_name_phone_and_city(customer, customer_client):
    pune = CityFactory(slug="pune")

    response = customer_client.patch(
        "/api/v1/auth/me",
        {"name": "Asha Rao", "phone": "+919812345678", "city": "pune"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Asha Rao"
    assert response.json()["phone"] == "+919812345678"
    assert response.json()["city"] == "pune"
    customer.refresh_from_db()
    assert (customer.name, customer.phone, customer.city) == ("Asha Rao", "+919812345678", pune)
    assert customer_client.get("/api/v1/auth/me").json()["city"] == "pune"


def test_a_patch_changes_only_the_fields_it_names(customer, customer_client):
    customer.phone = "+919800000001"
    customer.save()

    response = customer_client.patch("/api/v1/auth/me", {"name": "Only Name"}, format="json")

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("Only Name", "+919800000001")


def test_phone_and_city_can_be_removed(customer, customer_client):
    customer.phone, customer.city = "+919800000001", CityFactory()
    customer.save()

    response = customer_client.patch("/api/v1/auth/me", {"phone": "", "city": None}, format="json")

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.phone, customer.city) == ("", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "98123 45678"}, "phone"),
        ({"phone": "+0123456789"}, "phone"),
        ({"city": "atlantis"}, "city"),
        ({"city": "pu\x00ne"}, "city"),
        ({"name": ""}, "name"),
        ({"name": "x" * 151}, "name"),
    ],
)
def test_bad_profile_input_is_a_400_problem_and_changes_nothing(
    customer, customer_client, body, field
):
    before = (customer.name, customer.phone, customer.city_id)

    response = customer_client.patch("/api/v1/auth/me", body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    customer.refresh_from_db()
    assert (customer.name, customer.phone, customer.city_id) == before


def test_email_and_role_cannot_be_changed_through_the_profile(customer, customer_client):
    response = customer_client.patch(
        "/api/v1/auth/me", {"email": "new@example.test", "role": "support"}, format="json"
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.role == "customer"
    assert customer.email != "new@example.test"


def test_the_profile_needs_a_login(api_client):
    assert api_client.patch("/api/v1/auth/me", {"name": "x"}, format="json").status_code == 401


# --- POST /auth/logout ------------------------------------------------------------------------


def test_after_logout_the_refresh_token_is_refused(customer):
    tokens = log_in(customer.email)

    response = APIClient().post(
        "/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json"
    )

    assert response.status_code == 204
    refused = refresh(tokens["refresh"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_not_valid"
    # another session of the same user is not affected
    assert refresh(log_in(customer.email)["refresh"]).status_code == 200


def test_logging_out_twice_or_with_a_forged_token_is_401(customer):
    tokens = log_in(customer.email)
    client = APIClient()
    assert client.post("/api/v1/auth/logout", tokens, format="json").status_code == 204

    again = client.post("/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    forged = client.post("/api/v1/auth/logout", {"refresh": "not.a.token"}, format="json")
    access = client.post("/api/v1/auth/logout", {"refresh": tokens["access"]}, format="json")

    assert (again.status_code, again.json()["code"]) == (401, "token_not_valid")
    assert forged.status_code == 401
    assert access.status_code == 401


def test_logout_without_a_token_is_a_400_problem():
    response = APIClient().post("/api/v1/auth/logout", {}, format="json")

    assert response.status_code == 400
    assert "refresh" in response.json()["errors"]


# --- POST /auth/password ----------------------------------------------------------------------


def test_a_password_change_needs_the_current_password(customer):
    tokens = log_in(customer.email)
    client = bearer(tokens["access"])

    response = client.post(
        "/api/v1/auth/password",
        {"old_password": "not-my-password", "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "wrong_password"
    assert "old_password" in response.json()["errors"]
    assert User.objects.get(pk=customer.pk).check_password(TEST_PASSWORD)
    assert refresh(tokens["refresh"]).status_code == 200


def test_a_changed_password_logs_in_and_revokes_every_old_refresh_token(customer):
    phone = log_in(customer.email)
    laptop = log_in(customer.email)

    response = bearer(laptop["access"]).post(
        "/api/v1/auth/password",
        {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 204
    assert refresh(phone["refresh"]).status_code == 401
    assert refresh(laptop["refresh"]).status_code == 401
    assert log_in(customer.email, NEW_PASSWORD)["access"]
    old = APIClient().post(
        "/api/v1/auth/token", {"email": customer.email, "password": TEST_PASSWORD}, format="json"
    )
    assert old.status_code == 401


def test_a_weak_new_password_is_refused_and_nothing_changes(customer):
    client = authed_client(customer)

    response = client.post(
        "/api/v1/auth/password",
        {"old_password": TEST_PASSWORD, "new_password": "123"},
        format="json",
    )

    assert response.status_code == 400
    assert "new_password" in response.json()["errors"]
    assert User.objects.get(pk=customer.pk).check_password(TEST_PASSWORD)


def test_a_password_change_needs_a_login(api_client):
    response = api_client.post(
        "/api/v1/auth/password",
        {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 401


def test_one_users_password_change_does_not_touch_another_user(customer):
    other = CustomerFactory()
    others_tokens = log_in(other.email)

    bearer(log_in(customer.email)["access"]).post(
        "/api/v1/auth/password",
        {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert refresh(others_tokens["refresh"]).status_code == 200
    assert User.objects.get(pk=other.pk).check_password(TEST_PASSWORD)


def test_a_retried_password_change_with_its_idempotency_key_is_replayed(customer):
    client = bearer(log_in(customer.email)["access"])
    body = {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}

    first = client.post("/api/v1/auth/password", body, format="json", HTTP_IDEMPOTENCY_KEY="pw-1")
    retry = client.post("/api/v1/auth/password", body, format="json", HTTP_IDEMPOTENCY_KEY="pw-1")

    assert (first.status_code, retry.status_code) == (204, 204)
    assert User.objects.get(pk=customer.pk).check_password(NEW_PASSWORD)


def test_expired_refresh_tokens_are_purged_and_live_ones_kept(customer):
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        old = log_in(customer.email)
        APIClient().post("/api/v1/auth/logout", {"refresh": old["refresh"]}, format="json")
    live = log_in(customer.email)

    assert purge_expired_refresh_tokens() == 1

    assert list(OutstandingToken.objects.values_list("token", flat=True)) == [live["refresh"]]
    assert not BlacklistedToken.objects.exists()
    assert refresh(live["refresh"]).status_code == 200
