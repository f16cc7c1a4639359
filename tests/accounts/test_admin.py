import pytest

from accounts.models import Role, User
from tests.factories.accounts import TEST_PASSWORD, CustomerFactory, PartnerUserFactory


@pytest.mark.django_db
def test_support_user_logs_in_to_the_admin_with_email_and_password(client, support_user):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": support_user.email, "password": TEST_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_customer_cannot_use_the_admin(client):
    customer = CustomerFactory()

    client.post("/admin/login/", {"username": customer.email, "password": TEST_PASSWORD})

    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_user_changelist_filters_by_role_and_searches_email(client, support_user):
    customer = CustomerFactory(email="findme@example.test")
    partner = PartnerUserFactory(email="partner-x@example.test")
    client.force_login(support_user)

    by_role = client.get("/admin/accounts/user/", {"role": "partner"})
    by_search = client.get("/admin/accounts/user/", {"q": "findme"})

    assert by_role.status_code == 200
    assert list(by_role.context["cl"].result_list) == [partner]
    assert list(by_search.context["cl"].result_list) == [customer]


@pytest.mark.django_db
def test_admin_creates_a_user_with_a_hashed_password(client, support_user):
    client.force_login(support_user)

    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new-support@example.test",
            "role": Role.SUPPORT,
            "usable_password": "true",
            "password1": "plum-orbit-Tundra-91",
            "password2": "plum-orbit-Tundra-91",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new-support@example.test")
    assert user.role == Role.SUPPORT
    assert user.check_password("plum-orbit-Tundra-91")


@pytest.mark.django_db
def test_admin_stores_emails_lower_case_so_the_user_can_log_in_and_duplicates_are_caught(
    client, support_user
):
    client.force_login(support_user)
    form = {
        "role": Role.CUSTOMER,
        "usable_password": "true",
        "password1": "plum-orbit-Tundra-91",
        "password2": "plum-orbit-Tundra-91",
    }

    created = client.post("/admin/accounts/user/add/", {**form, "email": "Mixed@Example.test"})
    duplicate = client.post("/admin/accounts/user/add/", {**form, "email": "MIXED@example.TEST"})

    assert created.status_code == 302, created.context["adminform"].form.errors
    assert duplicate.status_code == 200
    assert "email" in duplicate.context["adminform"].form.errors
    assert list(User.objects.filter(email__iexact="mixed@example.test").values_list("email")) == [
        ("mixed@example.test",)
    ]
    token = client.post(
        "/api/v1/auth/token",
        {"email": "Mixed@Example.test", "password": "plum-orbit-Tundra-91"},
        content_type="application/json",
    )
    assert token.status_code == 200, token.content
