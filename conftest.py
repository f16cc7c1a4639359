"""Shared pytest fixtures. Tests run against real PostgreSQL and Redis (see Makefile)."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tests.factories.accounts import CustomerFactory, PartnerUserFactory, SupportUserFactory


def pytest_configure(config):
    # The suite's concurrency and constraint tests mean nothing on SQLite or locmem.
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine or "redis" not in settings.CACHES["default"]["BACKEND"]:
        raise pytest.UsageError(
            "Tests need PostgreSQL and Redis: run `make test` (sets DATABASE_URL and REDIS_URL)."
        )
    # Password hashing is not under test: PBKDF2 at 1.5M rounds for every factory user made
    # the suite about nine times slower. The production hasher list is unchanged.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters and other cached state must not leak between tests.
    cache.clear()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def authed_client(user) -> APIClient:
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def partner_user(db):
    return PartnerUserFactory()


@pytest.fixture
def support_user(db):
    return SupportUserFactory()


@pytest.fixture
def customer_client(customer) -> APIClient:
    return authed_client(customer)


@pytest.fixture
def admin_client_support(support_user) -> Client:
    """A Django admin session (cookie login) of a support user. Like the demo support
    login it is staff *and* superuser (``SupportUserFactory``); what a non-superuser
    staff member may do is tested with explicit permissions (tests/refunds/test_admin.py)."""
    client = Client()
    client.force_login(support_user)
    return client
