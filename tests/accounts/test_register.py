import pytest

from accounts.models import Role, User
from partners.models import Partner
from tests.factories.accounts import CustomerFactory
from tests.factories.partners import CityFactory

URL = "/api/v1/auth/register"
GOOD_PASSWORD = "plum-orbit-Tundra-91"


def _payload(**overrides):
    body = {
        "email": "asha@example.test",
        "password": GOOD_PASSWORD,
        "role": "customer",
        "name": "Asha Rao",
    }
    body.update(overrides)
    return body


def _assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= set(body)
    return body


@pytest.mark.django_db
def test_customer_registers_and_gets_id_email_role(api_client):
    response = api_client.post(URL, _payload(), format="json")

    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(email="asha@example.test")
    assert body["id"] == user.pk
    assert body["email"] == "asha@example.test"
    assert body["role"] == "customer"
    assert body["partner_id"] is None
    assert "password" not in body
    assert user.check_password(GOOD_PASSWORD)
    assert user.role == Role.CUSTOMER
    assert not user.is_staff
    assert not Partner.objects.exists()


@pytest.mark.django_db
def test_email_is_stored_lower_case(api_client):
    response = api_client.post(URL, _payload(email="Asha@Example.TEST"), format="json")

    assert response.status_code == 201
    assert User.objects.get().email == "asha@example.test"


@pytest.mark.django_db
def test_partner_registration_creates_unverified_partner_profile_in_the_city(api_client):
    city = CityFactory(slug="pune")

    response = api_client.post(
        URL, _payload(role="partner", name="Pune Plumbers", city="pune"), format="json"
    )

    assert response.status_code == 201
    partner = Partner.objects.get()
    assert response.json()["partner_id"] == partner.pk
    assert partner.user.email == "asha@example.test"
    assert partner.user.role == Role.PARTNER
    assert partner.city == city
    assert partner.name == "Pune Plumbers"
    assert partner.verified is False
    assert partner.active is True


@pytest.mark.django_db
def test_partner_without_city_is_rejected_and_nothing_is_written(api_client):
    response = api_client.post(URL, _payload(role="partner"), format="json")

    body = _assert_problem(response, 400, "validation_error")
    assert "city" in body["errors"]
    assert not User.objects.exists()
    assert not Partner.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("city", ["atlantis", "pu\x00ne", ["pune"], 7])
def test_unknown_city_is_a_400_and_nothing_is_written(api_client, city):
    CityFactory(slug="pune")

    response = api_client.post(URL, _payload(role="partner", city=city), format="json")

    body = _assert_problem(response, 400, "validation_error")
    assert "city" in body["errors"]
    assert not User.objects.exists()
    assert not Partner.objects.exists()


@pytest.mark.django_db
def test_support_role_cannot_self_register(api_client):
    response = api_client.post(URL, _payload(role="support"), format="json")

    body = _assert_problem(response, 400, "validation_error")
    assert "role" in body["errors"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_duplicate_email_is_a_409_in_any_case_and_keeps_the_first_account(api_client):
    existing = CustomerFactory(email="asha@example.test", name="First")

    response = api_client.post(
        URL, _payload(email="ASHA@example.test", name="Second"), format="json"
    )

    _assert_problem(response, 409, "email_taken")
    assert User.objects.count() == 1
    existing.refresh_from_db()
    assert existing.name == "First"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password",
    ["short1", "password123", "12345678901", "asha.rao.example"],
    ids=["too-short", "common", "numeric", "similar-to-email"],
)
def test_weak_passwords_are_rejected_by_django_validators(api_client, password):
    response = api_client.post(
        URL, _payload(password=password, email="asha.rao@example.test"), format="json"
    )

    body = _assert_problem(response, 400, "validation_error")
    assert body["errors"]["password"]
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["email", "password", "role", "name"])
def test_missing_field_is_a_400_naming_the_field(api_client, missing):
    payload = _payload()
    del payload[missing]

    response = api_client.post(URL, payload, format="json")

    body = _assert_problem(response, 400, "validation_error")
    assert missing in body["errors"]
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field,value",
    [("email", 42), ("email", "not-an-email"), ("role", ["customer"]), ("name", {"a": 1})],
)
def test_wrong_types_are_a_400(api_client, field, value):
    response = api_client.post(URL, _payload(**{field: value}), format="json")

    body = _assert_problem(response, 400, "validation_error")
    assert field in body["errors"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_malformed_json_is_a_400_malformed_request(api_client):
    response = api_client.post(URL, '{"email": "a@b.c", ', content_type="application/json")

    _assert_problem(response, 400, "malformed_request")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_registered_partner_can_use_the_provider_api(api_client):
    from conftest import authed_client

    CityFactory(slug="pune")
    api_client.post(URL, _payload(role="partner", city="pune"), format="json")

    client = authed_client(User.objects.get())
    response = client.get("/api/v1/provider/slots")

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_email_create_one_account():
    from accounts.errors import EmailTaken
    from accounts.services import register_user
    from tests.concurrency import run_concurrently

    def register(_: int) -> str:
        try:
            register_user(
                email="race@example.test", password=GOOD_PASSWORD, role="customer", name="R"
            )
        except EmailTaken:
            return "taken"
        return "created"

    outcomes = run_concurrently(3, register)

    assert sorted(outcomes) == ["created", "taken", "taken"]
    assert User.objects.filter(email="race@example.test").count() == 1


@pytest.mark.django_db
def test_registered_user_logs_in_and_makes_an_authenticated_request(api_client):
    registered = api_client.post(URL, _payload(), format="json")
    assert registered.status_code == 201, registered.content

    token = api_client.post(
        "/api/v1/auth/token",
        {"email": "asha@example.test", "password": GOOD_PASSWORD},
        format="json",
    )
    assert token.status_code == 200, token.content

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    me = api_client.get("/api/v1/auth/me")

    assert me.status_code == 200, me.content
    assert me.json()["id"] == registered.json()["id"]
    assert me.json()["email"] == "asha@example.test"
