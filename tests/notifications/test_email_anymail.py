"""Email through a provider's API with django-anymail (Postmark), faked at the HTTP
boundary: the request anymail really sends, and a provider outage retried by the outbox."""

import json
from datetime import timedelta

import pytest
import responses
import time_machine

from notifications.delivery import deliver
from notifications.models import OutboxMessage
from notifications.services import Recipient, notify
from notifications.tasks import dispatch_outbox

pytestmark = pytest.mark.django_db

API = "https://postmark.fake/"
SEND = f"{API}email"
TOKEN = "postmark-server-token"


@pytest.fixture(autouse=True)
def postmark(settings):
    settings.MAILERS = {
        "default": {"BACKEND": "anymail.backends.postmark.EmailBackend", "OPTIONS": {}}
    }
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": TOKEN, "POSTMARK_API_URL": API}
    settings.DEFAULT_FROM_EMAIL = "Slotwise <no-reply@slotwise.example>"
    with responses.RequestsMock() as fake:
        yield fake


def accepted(fake):
    return fake.post(
        SEND,
        json={
            "To": "asha@example.com",
            "SubmittedAt": "2026-12-02T01:00:00Z",
            "MessageID": "0a129aee-e1cd-480d-b08d-4f48548ff48d",
            "ErrorCode": 0,
            "Message": "OK",
        },
    )


def email_row() -> OutboxMessage:
    [row] = notify(
        kind="support.note",
        recipients=[Recipient(email="asha@example.com")],
        context={"subject": "Your refund", "message": "It is on its way."},
    )
    return row


def test_an_email_is_posted_to_postmark_with_the_server_token(postmark):
    endpoint = accepted(postmark)
    row = email_row()

    assert deliver(row.pk) is True

    [call] = endpoint.calls
    assert call.request.headers["X-Postmark-Server-Token"] == TOKEN
    sent = json.loads(call.request.body)
    assert sent["From"] == "Slotwise <no-reply@slotwise.example>"
    assert sent["To"] == "asha@example.com"
    assert sent["Subject"] == "Your refund"
    assert sent["TextBody"] == "It is on its way."
    row.refresh_from_db()
    assert row.status == OutboxMessage.Status.SENT


def test_a_provider_outage_is_retried_by_the_outbox(postmark):
    outage = postmark.post(SEND, status=503, body="Service Unavailable")
    row = email_row()

    assert deliver(row.pk) is False
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxMessage.Status.PENDING, 1)
    assert row.last_error == "AnymailRequestsAPIError on attempt 1"

    postmark.remove(outage)
    endpoint = accepted(postmark)
    with time_machine.travel(row.available_at + timedelta(seconds=1)):
        assert dispatch_outbox() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxMessage.Status.SENT, 2)
    assert len(endpoint.calls) == 1


def test_an_address_the_provider_refuses_fails_at_once(postmark):
    refused = postmark.post(
        SEND,
        status=422,
        json={"ErrorCode": 300, "Message": "Invalid 'To' address: 'asha@example.com'."},
    )
    row = email_row()

    assert deliver(row.pk) is False

    row.refresh_from_db()
    assert row.status == OutboxMessage.Status.FAILED
    assert row.last_error == ("the email provider refused the recipient (attempt 1, not retried)")
    assert len(refused.calls) == 1
