"""The admin login locks out by account and by address after a few failures, and another
admin can unlock (issue 13 #3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests.factories.accounts import TEST_PASSWORD, SupportUserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def login(client: Client, email: str, password: str, address: str = "198.51.100.7"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=address)


def test_after_the_failure_limit_even_the_right_password_is_refused(settings):
    settings.AXES_FAILURE_LIMIT = 5
    admin = SupportUserFactory()
    client = Client()

    failures = [login(client, admin.email, f"wrong-{n}") for n in range(5)]
    right = login(client, admin.email, TEST_PASSWORD)

    assert all(f.status_code == 200 for f in failures[:4])  # the form again, with an error
    assert right.status_code == 429
    assert client.get("/admin/").status_code == 302  # not logged in


def test_the_account_is_locked_from_another_address_too(settings):
    settings.AXES_FAILURE_LIMIT = 3
    admin = SupportUserFactory()
    for n in range(3):
        login(Client(), admin.email, "wrong", address=f"203.0.113.{n + 1}")

    assert login(Client(), admin.email, TEST_PASSWORD, address="192.0.2.99").status_code == 429


def test_one_address_is_locked_whatever_account_it_tries(settings):
    settings.AXES_FAILURE_LIMIT = 3
    victim = SupportUserFactory()
    for n in range(3):
        login(Client(), f"guess{n}@example.test", "wrong", address="203.0.113.50")

    locked = login(Client(), victim.email, TEST_PASSWORD, address="203.0.113.50")
    other_address = login(Client(), victim.email, TEST_PASSWORD, address="203.0.113.51")

    assert locked.status_code == 429
    assert other_address.status_code == 302


def test_another_admin_unlocks_from_the_admin(settings):
    settings.AXES_FAILURE_LIMIT = 3
    locked_admin, other_admin = SupportUserFactory(), SupportUserFactory()
    for _ in range(3):
        login(Client(), locked_admin.email, "wrong")
    assert login(Client(), locked_admin.email, TEST_PASSWORD).status_code == 429
    console = Client()
    console.force_login(other_admin)

    listed = console.get("/admin/axes/accessattempt/")
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    unlocked = console.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )

    assert listed.status_code == 200 and locked_admin.email in listed.content.decode()
    assert unlocked.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert login(Client(), locked_admin.email, TEST_PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    admin = SupportUserFactory()
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(2):
            login(Client(), admin.email, "wrong")
        assert login(Client(), admin.email, TEST_PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        assert login(Client(), admin.email, TEST_PASSWORD).status_code == 302


def test_the_api_token_endpoint_is_not_locked_by_admin_failures(settings, api_client):
    settings.AXES_FAILURE_LIMIT = 2
    admin = SupportUserFactory()
    for _ in range(3):
        login(Client(), admin.email, "wrong", address="127.0.0.1")

    response = api_client.post(
        "/api/v1/auth/token", {"email": admin.email, "password": TEST_PASSWORD}, format="json"
    )

    assert response.status_code == 200
