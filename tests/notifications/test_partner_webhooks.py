"""Outbound partner webhooks: written with the status change, signed, retried, final on 4xx."""

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import pytest
import requests
import responses
import time_machine
from django.db import transaction
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.transitions import transition_booking
from notifications.delivery import deliver
from notifications.models import OutboxMessage
from notifications.tasks import dispatch_outbox
from tests.factories.bookings import BookingFactory
from tests.factories.otp import confirmed_booking
from tests.factories.partners import PartnerFactory, SlotFactory
from tests.notifications.conftest import PUBLIC_ADDRESS

pytestmark = pytest.mark.django_db

HOOK_URL = "https://partner.example/slotwise-hook"
# partner.example resolves (tests/notifications/conftest.py: fake_dns) to a public address,
# and the request goes to that checked address with the name in the Host header.
SENT_TO = f"https://{PUBLIC_ADDRESS}/slotwise-hook"
SECRET = "whsec_test-secret-0123456789"


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def hooked_partner():
    return PartnerFactory(webhook_url=HOOK_URL, webhook_secret=SECRET)


def webhook_rows(**filters):
    return OutboxMessage.objects.filter(channel=OutboxMessage.Channel.WEBHOOK, **filters)


def verify(request, secret: str = SECRET) -> dict:
    """What a partner does: recompute the HMAC of "<t>.<raw body>" and compare."""
    parts = dict(item.split("=", 1) for item in request.headers["Slotwise-Signature"].split(","))
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "signature does not verify"
    assert abs(int(parts["t"]) - timezone.now().timestamp()) < 300
    return json.loads(body)


def confirm_with_delivery(django_capture_on_commit_callbacks, partner, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return confirmed_booking(partner=partner, **kwargs)


def test_confirmation_sends_a_verifiable_signed_event_with_the_booking(
    http, hooked_partner, django_capture_on_commit_callbacks
):
    http.post(SENT_TO, status=200)
    booking = confirm_with_delivery(django_capture_on_commit_callbacks, hooked_partner, quantity=1)

    assert len(http.calls) == 1
    request = http.calls[0].request
    event = verify(request)
    row = webhook_rows().get()
    assert (row.status, row.attempts, row.kind) == ("sent", 1, "booking.confirmed")
    assert row.booking_id == booking.pk and row.recipient == HOOK_URL
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Slotwise-Event-Id"] == event["id"] == row.payload["event_id"]
    assert request.headers["Slotwise-Event-Type"] == "booking.confirmed"
    assert event["id"].startswith("evt_")
    assert event["type"] == "booking.confirmed"
    assert set(event) == {"id", "type", "created_at", "data"}
    slot = booking.slot
    assert event["data"] == {
        "booking_id": booking.pk,
        "status": "CONFIRMED",
        "previous_status": "PENDING_PAYMENT",
        "partner_id": hooked_partner.pk,
        "slot_id": slot.pk,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "service": booking.variant.service.name,
        "variant": booking.variant.name,
        "quantity": 1,
        "amount": booking.amount_minor,
        "currency": booking.currency,
        "customer_name": booking.customer.name,
    }
    # Neither the secret nor contact details travel or are stored in the row.
    assert SECRET not in request.body.decode() and SECRET not in row.body
    assert booking.customer.email not in request.body.decode()


def test_a_503_is_retried_after_backoff_with_the_same_event_and_delivered_once(
    http, hooked_partner, django_capture_on_commit_callbacks
):
    http.post(SENT_TO, status=503)
    http.post(SENT_TO, status=200)
    confirm_with_delivery(django_capture_on_commit_callbacks, hooked_partner)
    row = webhook_rows().get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "PartnerEndpointUnavailable on attempt 1"
    assert row.available_at > timezone.now()

    assert dispatch_outbox() == 0  # not due yet
    with time_machine.travel(row.available_at + timedelta(seconds=1)):
        assert dispatch_outbox() == 1
        assert dispatch_outbox() == 0
        first, second = (verify(call.request) for call in http.calls)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(http.calls) == 2
    assert first == second  # the same event, byte for byte
    ids = {call.request.headers["Slotwise-Event-Id"] for call in http.calls}
    assert ids == {row.payload["event_id"]}


def test_network_errors_and_429_are_retried_like_5xx(http, hooked_partner):
    http.post(SENT_TO, body=requests.ConnectionError("refused"))
    http.post(SENT_TO, status=429)
    http.post(SENT_TO, status=204)
    booking = BookingFactory(slot=SlotFactory(partner=hooked_partner))
    transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.CONFIRMED,
    )
    row = webhook_rows().get()

    assert deliver(row.pk) is False
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("pending", "ConnectionError on attempt 1")
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert deliver(row.pk) is False
        row.refresh_from_db()
        assert (row.status, row.last_error) == (
            "pending",
            "PartnerEndpointUnavailable on attempt 2",
        )
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert deliver(row.pk) is True
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 3)


def test_a_400_fails_at_once_without_retry_and_shows_in_the_admin_outbox(
    http, hooked_partner, django_capture_on_commit_callbacks, admin_client, caplog
):
    http.post(SENT_TO, status=400, body="bad request")
    with caplog.at_level(logging.DEBUG):
        confirm_with_delivery(django_capture_on_commit_callbacks, hooked_partner)
    row = webhook_rows().get()
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "HTTP 400 from the partner's endpoint (attempt 1, not retried)"
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert dispatch_outbox() == 0
    assert len(http.calls) == 1
    assert SECRET not in caplog.text and SECRET not in row.last_error

    listing = admin_client.get(
        "/admin/notifications/outboxmessage/", {"status": "failed", "channel": "webhook"}
    )
    assert listing.status_code == 200
    assert f'href="/admin/notifications/outboxmessage/{row.pk}/change/' in listing.text


def test_partner_without_webhook_url_gets_no_webhook_row(django_capture_on_commit_callbacks):
    partner = PartnerFactory(webhook_url="", webhook_secret=SECRET)
    booking = confirm_with_delivery(django_capture_on_commit_callbacks, partner)

    assert not webhook_rows().exists()
    # The customer's own notifications are unaffected.
    assert OutboxMessage.objects.filter(
        booking=booking, kind="booking.confirmed", channel=OutboxMessage.Channel.EMAIL
    ).exists()


def test_the_row_is_written_in_the_status_change_transaction_and_sent_only_after_commit(
    http, hooked_partner, django_capture_on_commit_callbacks
):
    http.post(SENT_TO, status=200)
    booking = BookingFactory(slot=SlotFactory(partner=hooked_partner))

    with pytest.raises(RuntimeError), transaction.atomic():
        transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.PENDING_PAYMENT],
            to_status=BookingStatus.CONFIRMED,
        )
        assert webhook_rows(booking=booking).count() == 1
        raise RuntimeError("the rest of the change failed")
    assert not webhook_rows().exists()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING_PAYMENT

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transition_booking(
            booking_id=booking.pk,
            from_statuses=[BookingStatus.PENDING_PAYMENT],
            to_status=BookingStatus.CONFIRMED,
        )
    assert webhook_rows(booking=booking, status="pending").count() == 1
    assert len(http.calls) == 0  # nothing leaves before commit
    for callback in callbacks:
        callback()
    assert webhook_rows(booking=booking, status="sent").count() == 1
    assert len(http.calls) == 1


def test_cancelling_a_confirmed_booking_sends_booking_cancelled_but_an_unpaid_one_sends_nothing(
    hooked_partner,
):
    unpaid = BookingFactory(
        slot=SlotFactory(partner=hooked_partner, start=timezone.now() + timedelta(days=5))
    )
    transition_booking(
        booking_id=unpaid.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.CANCELLED,
        release_seats=True,
    )
    assert not webhook_rows(booking=unpaid).exists()

    booking = confirmed_booking(partner=hooked_partner)
    transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.CONFIRMED],
        to_status=BookingStatus.CANCELLED,
        release_seats=True,
        reason="customer asked",
    )
    kinds = list(webhook_rows(booking=booking).order_by("id").values_list("kind", flat=True))
    assert kinds == ["booking.confirmed", "booking.cancelled"]
    event = json.loads(webhook_rows(kind="booking.cancelled").get().body)
    assert event["data"]["status"] == "CANCELLED"
    assert event["data"]["previous_status"] == "CONFIRMED"


def test_a_queued_event_is_signed_with_the_secret_current_at_send_time(http, hooked_partner):
    http.post(SENT_TO, status=200)
    confirmed_booking(partner=hooked_partner)
    row = webhook_rows().get()
    hooked_partner.webhook_secret = "whsec_rotated"
    hooked_partner.save(update_fields=["webhook_secret"])

    assert deliver(row.pk) is True
    verify(http.calls[0].request, secret="whsec_rotated")
    with pytest.raises(AssertionError, match="does not verify"):
        verify(http.calls[0].request, secret=SECRET)


def test_a_queued_event_is_skipped_when_the_partner_removed_its_url(http, hooked_partner):
    confirmed_booking(partner=hooked_partner)
    row = webhook_rows().get()
    hooked_partner.webhook_url = ""
    hooked_partner.save(update_fields=["webhook_url"])

    assert deliver(row.pk) is False
    row.refresh_from_db()
    assert row.status == "skipped"
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("url", "secret", "error"),
    [
        (HOOK_URL, "", "the partner has no webhook signing secret"),
        ("https://127.0.0.1/hook", SECRET, "the webhook URL must not point to a private"),
    ],
)
def test_unsigned_or_internal_deliveries_are_never_attempted(http, url, secret, error):
    partner = PartnerFactory(webhook_url=url, webhook_secret=secret)  # e.g. set in the admin
    confirmed_booking(partner=partner)
    row = webhook_rows().get()

    assert deliver(row.pk) is False
    row.refresh_from_db()
    assert row.status == "failed" and row.last_error.startswith(error)
    assert len(http.calls) == 0
