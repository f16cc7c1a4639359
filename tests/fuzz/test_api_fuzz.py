"""The API fuzzer: schemathesis over our OpenAPI schema, in-process through WSGI against
the test database, as a customer, a partner and support (issue 13).

Every operation gets ``FUZZ_EXAMPLES`` generated requests per role (bounded, so it runs
in ``make test``); each answer must not be a 5xx, must be a status the schema declares
for the operation, with the declared content type, and its body (problem details for
every error) must match the schema.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from conftest import authed_client
from tests.factories.accounts import CustomerFactory, SupportUserFactory
from tests.factories.otp import confirmed_booking
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db):
    # As Django's test client does: the WSGI handler must not close the test
    # transaction's connection at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema?format=json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(db):
    """Something for the fuzzer to find: ids 1.. exist for the main objects."""
    customer = CustomerFactory()
    variant = ServiceVariantFactory()
    partner = PartnerFactory(services=[variant.service])
    # A day after the confirmed booking's slot: a partner's slots never overlap.
    SlotFactory(partner=partner, capacity=3, start=timezone.now() + timedelta(days=3))
    confirmed_booking(customer=customer, partner=partner)
    return {"customer": customer, "partner": partner.user, "support": SupportUserFactory()}


def bearer(user) -> str:
    return authed_client(user)._credentials["HTTP_AUTHORIZATION"]


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a finding is reproducible
    suppress_health_check=list(HealthCheck),
    database=None,
)


def fuzz(api_schema, user) -> list[str]:
    """Run every operation's examples; the findings, one line each."""
    headers = {"Authorization": bearer(user)}
    findings = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            findings.append(f"{operation.label}: {str(exc)[:2000]}")
    return findings


@pytest.mark.parametrize("role", ["customer", "partner", "support"])
def test_no_operation_answers_5xx_or_off_schema(api_schema, world, role):
    findings = fuzz(api_schema, world[role])

    assert not findings, "\n\n".join(findings)
