import pytest
import time_machine
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories.accounts import TEST_PASSWORD, CustomerFactory
from tests.factories.partners import PartnerFactory

TOKEN_URL = "/api/v1/auth/token"
REFRESH_URL = "/api/v1/auth/token/refresh"
ME_URL = "/api/v1/auth/me"


def _assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


@pytest.mark.django_db
def test_token_pair_authenticates_requests(api_client):
    user = CustomerFactory(email="ravi@example.test")

    response = api_client.post(
        TOKEN_URL, {"email": "ravi@example.test", "password": TEST_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["id"] == user.pk
    assert me.json()["role"] == "customer"
    assert me.json()["partner"] is None


@pytest.mark.django_db
def test_login_email_is_case_insensitive(api_client):
    CustomerFactory(email="ravi@example.test")

    response = api_client.post(
        TOKEN_URL, {"email": "Ravi@Example.test", "password": TEST_PASSWORD}, format="json"
    )

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email,password",
    [("ravi@example.test", "wrong-password"), ("nobody@example.test", TEST_PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_bad_credentials_are_a_401_problem(api_client, email, password):
    CustomerFactory(email="ravi@example.test")

    response = api_client.post(TOKEN_URL, {"email": email, "password": password}, format="json")

    _assert_problem(response, 401, "authentication_failed")


@pytest.mark.django_db
def test_inactive_user_cannot_get_a_token(api_client):
    CustomerFactory(email="ravi@example.test", is_active=False)

    response = api_client.post(
        TOKEN_URL, {"email": "ravi@example.test", "password": TEST_PASSWORD}, format="json"
    )

    _assert_problem(response, 401, "authentication_failed")


@pytest.mark.django_db
def test_missing_password_is_a_400(api_client):
    response = api_client.post(TOKEN_URL, {"email": "ravi@example.test"}, format="json")

    body = _assert_problem(response, 400, "validation_error")
    assert "password" in body["errors"]


@pytest.mark.django_db
def test_refresh_returns_a_new_access_token(api_client):
    user = CustomerFactory()
    refresh = RefreshToken.for_user(user)

    response = api_client.post(REFRESH_URL, {"refresh": str(refresh)}, format="json")

    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert api_client.get(ME_URL).json()["id"] == user.pk


@pytest.mark.django_db
def test_garbage_refresh_token_is_a_401(api_client):
    response = api_client.post(REFRESH_URL, {"refresh": "not.a.token"}, format="json")

    body = _assert_problem(response, 401, "token_not_valid")
    assert body["detail"] == "The token is not valid."


@pytest.mark.django_db
def test_me_without_token_is_a_401_with_www_authenticate(api_client):
    response = api_client.get(ME_URL)

    _assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_me_with_invalid_token_is_a_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer abc.def.ghi")

    response = api_client.get(ME_URL)

    body = _assert_problem(response, 401, "token_not_valid")
    # A plain sentence, never the repr of simplejwt's detail dict.
    assert body["detail"] == "The token is not valid."
    assert "ErrorDetail" not in response.content.decode()


@pytest.mark.django_db
def test_a_tampered_token_is_token_not_valid(api_client):
    token = str(RefreshToken.for_user(CustomerFactory()).access_token)
    header, payload, signature = token.split(".")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{payload}.{signature[::-1]}")

    body = _assert_problem(api_client.get(ME_URL), 401, "token_not_valid")
    assert body["detail"] == "The token is not valid."


@pytest.mark.django_db
def test_an_expired_access_token_is_token_expired(api_client):
    with time_machine.travel("2030-01-01 10:00Z", tick=False):
        token = str(RefreshToken.for_user(CustomerFactory()).access_token)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    with time_machine.travel("2030-01-02 10:00Z", tick=False):
        response = api_client.get(ME_URL)

    body = _assert_problem(response, 401, "token_expired")
    assert body["detail"] == "The token has expired; obtain a new one."
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_an_expired_refresh_token_is_token_expired(api_client):
    with time_machine.travel("2030-01-01 10:00Z", tick=False):
        refresh = str(RefreshToken.for_user(CustomerFactory()))

    with time_machine.travel("2030-02-01 10:00Z", tick=False):
        response = api_client.post(REFRESH_URL, {"refresh": refresh}, format="json")

    _assert_problem(response, 401, "token_expired")


@pytest.mark.django_db
def test_me_shows_the_partner_profile(api_client):
    from conftest import authed_client

    partner = PartnerFactory(city__slug="goa")

    response = authed_client(partner.user).get(ME_URL)

    assert response.json()["partner"] == {
        "id": partner.pk,
        "name": partner.name,
        "city": "goa",
        "verified": True,
        "active": True,
    }


@pytest.mark.django_db
def test_auth_endpoints_are_throttled_with_a_429_problem(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "2/min"},
    }
    body = {"email": "nobody@example.test", "password": "whatever-1234"}

    statuses = [api_client.post(TOKEN_URL, body, format="json").status_code for _ in range(2)]
    response = api_client.post(TOKEN_URL, body, format="json")

    assert statuses == [401, 401]
    _assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # Registration shares the scope, so it is throttled too (and writes nothing).
    register = api_client.post(
        "/api/v1/auth/register",
        {
            "email": "x@example.test",
            "password": "plum-orbit-Tundra-91",
            "role": "customer",
            "name": "X",
        },
        format="json",
    )
    _assert_problem(register, 429, "throttled")


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_escape_the_auth_throttle(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "2/min"},
    }
    body = {"email": "nobody@example.test", "password": "whatever-1234"}

    responses = [
        api_client.post(TOKEN_URL, body, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        for n in (1, 2, 3)
    ]

    assert [r.status_code for r in responses[:2]] == [401, 401]
    _assert_problem(responses[2], 429, "throttled")
