"""The request id: taken from X-Request-ID when well-formed, else made; on every log line
(JSON outside the embedded mode), in the Celery tasks a request enqueues and in the
partner webhooks it causes."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from common.request_id import HEADER, bound_request_id
from notifications.services import queue_partner_webhook
from notifications.tasks import dispatch_outbox
from payments.gateways.sandbox import build_payment_webhook
from payments.models import Payment
from refunds.models import Refund
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines(settings):
    """The lines the configured console handler writes, parsed as JSON (the suite runs in
    production mode, where LOG_FORMAT defaults to json)."""
    assert settings.LOG_FORMAT == "json"
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield read
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    ["0f8fad5b-d9cb-469f-a165-70867728950e", "5f2a9c0e41d3b7a8", "lb.Root-1:abc_DEF.42"],
)
def test_a_well_formed_incoming_request_id_is_kept(api_client, incoming):
    response = api_client.get("/health", HTTP_X_REQUEST_ID=incoming)

    assert response[HEADER] == incoming


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "short",
        "has spaces in it",
        "x" * 129,
        "line\nbreak-0123",
        '"quoted-0123"',
        "-leading-dash",
    ],
)
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(api_client, incoming):
    first = api_client.get("/health", HTTP_X_REQUEST_ID=incoming)
    second = api_client.get("/health", HTTP_X_REQUEST_ID=incoming)

    assert GENERATED.fullmatch(first[HEADER])
    assert GENERATED.fullmatch(second[HEADER])
    assert first[HEADER] != second[HEADER]


def test_an_error_answer_carries_the_request_id_too(client):
    response = client.get("/no/such/page", HTTP_X_REQUEST_ID="trace-404-0001")

    assert response.status_code == 404
    assert response[HEADER] == "trace-404-0001"


@pytest.mark.django_db
def test_log_lines_are_json_with_the_request_id(api_client, log_lines):
    api_client.get("/health", HTTP_X_REQUEST_ID="health-probe-0001")
    logging.getLogger("tests").warning("outside any request")

    lines = log_lines()
    request_line = next(line for line in lines if line["logger"] == "monitoring.requests")
    assert request_line["request_id"] == "health-probe-0001"
    assert request_line["message"].startswith("GET health 200 ")
    assert (request_line["level"], request_line["view"], request_line["status"]) == (
        "INFO",
        "health",
        200,
    )
    assert {"time", "duration_ms"} <= set(request_line)
    outside = next(line for line in lines if line["message"] == "outside any request")
    assert outside["request_id"] == "-"


HOOK_URL = "https://93.184.216.34/slotwise-hook"  # a public address: no DNS lookup


@pytest.mark.django_db(transaction=True)
def test_one_request_id_follows_a_booking_into_its_tasks_and_partner_webhooks(
    customer_client, settings, log_lines
):
    """Real commits, so the tasks are enqueued (and run eagerly) when each request's
    transaction commits, inside the request, like in production."""
    settings.PAYMENT_SANDBOX_ENABLED = True
    settings.PAYMENT_DEFAULT_GATEWAY = "sandbox"
    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    partner = PartnerFactory(
        services=[variant.service], webhook_url=HOOK_URL, webhook_secret="whsec_story-0123456789"
    )
    start = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    slot = SlotFactory(partner=partner, capacity=2, start=start, end=start + timedelta(hours=1))

    with responses.RequestsMock() as partner_endpoint:
        partner_endpoint.post(HOOK_URL, status=200)

        booked = customer_client.post(
            "/api/v1/bookings",
            {"slot_id": slot.pk, "variant_id": variant.pk},
            format="json",
            HTTP_X_REQUEST_ID="story-book-0001",
        )
        assert booked.status_code == 201, booked.content
        booking_id = booked.json()["id"]
        body, headers = build_payment_webhook(
            payment=Payment.objects.get(booking_id=booking_id), outcome="captured"
        )
        captured = customer_client.post(
            "/webhooks/sandbox",
            data=body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
            HTTP_X_REQUEST_ID="story-capture-0002",
        )
        assert captured.status_code == 200, captured.content
        cancelled = customer_client.post(
            f"/api/v1/bookings/{booking_id}/cancel",
            {},
            format="json",
            HTTP_X_REQUEST_ID="story-cancel-0003",
        )
        assert cancelled.status_code == 200, cancelled.content

        sent = [
            (call.request.headers["Slotwise-Event-Type"], call.request.headers[HEADER])
            for call in partner_endpoint.calls
        ]

    assert Booking.objects.get(pk=booking_id).status == BookingStatus.CANCELLED
    assert Refund.objects.get(booking_id=booking_id).status == Refund.Status.SUCCEEDED
    # The partner hears of each change with the id of the request that made it.
    assert sent == [
        ("booking.confirmed", "story-capture-0002"),
        ("booking.cancelled", "story-cancel-0003"),
    ]

    lines = log_lines()

    def tasks_of(request_id: str) -> set[str]:
        return {
            line["message"].removeprefix("task started: ")
            for line in lines
            if line["request_id"] == request_id and line["message"].startswith("task started")
        }

    def requests_of(request_id: str) -> list[str]:
        return [
            line["view"]
            for line in lines
            if line["request_id"] == request_id and line["logger"] == "monitoring.requests"
        ]

    assert requests_of("story-book-0001") == ["booking-list"]
    assert requests_of("story-capture-0002") == ["webhook-sandbox"]
    assert requests_of("story-cancel-0003") == ["booking-cancel"]
    # Messages of the confirmation (customer email/SMS, arrival code, partner webhook).
    assert "notifications.tasks.deliver_message" in tasks_of("story-capture-0002")
    # The refund of the cancellation and its messages.
    assert {"refunds.tasks.execute_refund", "notifications.tasks.deliver_message"} <= tasks_of(
        "story-cancel-0003"
    )
    task_lines = [line for line in lines if line["message"].startswith("task ")]
    assert task_lines and all(line["request_id"] != "-" for line in task_lines)


@pytest.mark.django_db
def test_a_webhook_sent_by_the_outbox_sweep_carries_the_id_of_the_change_that_wrote_it():
    # Its own delivery task was lost (the test transaction never commits, so nothing is
    # enqueued); the periodic sweep sends it later under another id.
    partner = PartnerFactory(webhook_url=HOOK_URL, webhook_secret="whsec_sweep-0123456789")
    with bound_request_id("change-request-0001"):
        queue_partner_webhook(
            partner_id=partner.pk, booking_id=None, event_type="booking.confirmed", data={}
        )

    with responses.RequestsMock() as partner_endpoint:
        partner_endpoint.post(HOOK_URL, status=200)
        with bound_request_id("sweep-run-0002"):
            assert dispatch_outbox() == 1

        assert partner_endpoint.calls[0].request.headers[HEADER] == "change-request-0001"
