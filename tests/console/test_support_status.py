"""GET /api/v1/support/status: support only, and its figures follow the real rows."""

import uuid
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from kombu import Connection
from rest_framework.test import APIClient

from conftest import authed_client
from notifications.models import OutboxMessage
from refunds.models import Dispute, Refund
from tests.factories.accounts import SupportUserFactory
from tests.factories.refunds import CapturedPaymentFactory, DisputeFactory

URL = "/api/v1/support/status"


@pytest.fixture
def support_api(support_staff):
    return authed_client(support_staff)


@pytest.mark.django_db
def test_anonymous_gets_401_problem_details():
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["customer", "partner_user"])
def test_customers_and_partners_get_403_problem_details(request, who):
    response = authed_client(request.getfixturevalue(who)).get(URL)

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_support_role_without_staff_status_gets_403():
    response = authed_client(SupportUserFactory(is_staff=False, is_superuser=False)).get(URL)

    assert response.status_code == 403


@pytest.mark.django_db
def test_empty_marketplace_reads_zero_everywhere(support_api):
    body = support_api.get(URL).json()

    assert body["outbox"] == {
        "pending": {"total": 0, "by_kind": {}},
        "failed": {"total": 0, "by_kind": {}},
    }
    assert body["refunds"] == {"in_flight": 0, "needing_attention": 0}
    assert body["payments"] == {"flagged": 0}
    assert body["disputes"] == {"open": 0}
    assert body["webhooks_last_hour"] == {"total": 0, "by_outcome": {}}
    assert body["queues"]["broker"] == "ok"  # the suite's Redis


@pytest.mark.django_db
def test_figures_move_with_the_rows(support_api, outbox_message, refund, webhook_event):
    outbox_message(status=OutboxMessage.Status.PENDING, kind="booking.confirmed")
    outbox_message(status=OutboxMessage.Status.PENDING, kind="booking.confirmed")
    outbox_message(status=OutboxMessage.Status.FAILED, kind="booking.cancelled")
    outbox_message(status=OutboxMessage.Status.SENT, kind="booking.confirmed")  # not counted
    refund(status=Refund.Status.PENDING)
    refund(status=Refund.Status.PROCESSING, last_error="GatewayError: 503")
    refund(status=Refund.Status.FAILED, last_error="GatewayError: 400")
    refund(status=Refund.Status.SUCCEEDED)
    CapturedPaymentFactory(flagged=True, flag_reason="amount mismatch")
    CapturedPaymentFactory()
    DisputeFactory()
    DisputeFactory(status=Dispute.Status.REJECTED)
    webhook_event(outcome="processed")
    webhook_event(outcome="processed", minutes_ago=30)
    webhook_event(outcome="flagged", minutes_ago=59)
    webhook_event(outcome="processed", minutes_ago=61)  # older than the hour

    body = support_api.get(URL).json()

    assert body["outbox"] == {
        "pending": {"total": 2, "by_kind": {"booking.confirmed": 2}},
        "failed": {"total": 1, "by_kind": {"booking.cancelled": 1}},
    }
    # processing with an error and failed need attention; pending and processing fly
    assert body["refunds"] == {"in_flight": 2, "needing_attention": 2}
    assert body["payments"] == {"flagged": 1}
    assert body["disputes"] == {"open": 1}
    assert body["webhooks_last_hour"] == {
        "total": 3,
        "by_outcome": {"processed": 2, "flagged": 1},
    }


@pytest.mark.django_db
def test_a_refund_the_gateway_accepted_counts_once_it_waited_over_a_day(support_api, refund):
    waiting = refund(status=Refund.Status.PROCESSING, gateway_refund_id="rfnd_1")
    assert support_api.get(URL).json()["refunds"]["needing_attention"] == 0

    Refund.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(days=2))

    assert support_api.get(URL).json()["refunds"] == {"in_flight": 1, "needing_attention": 1}


@pytest.mark.django_db
def test_queue_lengths_come_from_the_broker(support_api, settings):
    queue = f"console-status-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ROUTES = {"some.task": {"queue": queue}}
    with Connection(settings.CELERY_BROKER_URL) as conn:
        simple = conn.SimpleQueue(queue)
        try:
            for n in range(3):
                simple.put({"n": n})

            queues = support_api.get(URL).json()["queues"]
        finally:
            simple.queue.delete()
            simple.close()

    assert queues["broker"] == "ok"
    assert queues["lengths"][queue] == 3
    assert "celery" in queues["lengths"]


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_unreachable_broker_is_reported_not_a_500(support_api):
    response = support_api.get(URL)

    assert response.status_code == 200
    assert response.json()["queues"] == {"broker": "error", "lengths": None}


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="memory://")
def test_embedded_in_process_broker_has_no_queues(support_api):
    assert support_api.get(URL).json()["queues"] == {"broker": "in_process", "lengths": {}}


@pytest.mark.django_db
def test_status_is_a_handful_of_queries(support_api, django_assert_max_num_queries, refund):
    refund(status=Refund.Status.FAILED)
    DisputeFactory()

    # user (JWT), outbox, refunds, flagged payments, disputes, webhooks
    with django_assert_max_num_queries(6):
        assert support_api.get(URL).status_code == 200


@pytest.mark.django_db
def test_schema_declares_the_status_for_support(client):
    schema = client.get("/api/schema?format=json").json()
    operation = schema["paths"]["/api/v1/support/status"]["get"]

    assert {"200", "401", "403"} <= set(operation["responses"])
