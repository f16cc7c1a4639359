"""The Twilio SMS backend, faked at the HTTP boundary: the request Twilio's SDK really
sends (URL, form fields, basic auth), failures retried through the outbox or failed at
once, and a completion code reaching a staff member who has only a phone number."""

import base64
import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
import time_machine
from django.core import mail

from bookings.models import Booking, BookingStatus
from conftest import authed_client
from notifications.delivery import deliver
from notifications.models import OutboxMessage
from notifications.services import Recipient, notify
from notifications.tasks import dispatch_outbox
from tests.factories.otp import confirmed_booking, last_code, staff_of
from tests.factories.partners import PartnerFactory

pytestmark = pytest.mark.django_db

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-test-auth-token"
API = "https://twilio.fake"
MESSAGES = f"{API}/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture(autouse=True)
def twilio(settings, sms_outbox):
    settings.SMS_BACKEND = "notifications.sms.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE = API
    with responses.RequestsMock() as fake:
        yield fake


def accepted(fake, status=201, **body):
    message = {"sid": "SM" + "f" * 32, "status": "queued", "account_sid": SID, **body}
    return fake.post(MESSAGES, status=status, json=message)


def refused(fake, status, code):
    return fake.post(
        MESSAGES,
        status=status,
        json={"code": code, "message": "The 'To' number +1555 is not valid.", "status": status},
    )


def sent_form(call) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(call.request.body).items()}


def sms_row(phone="+919800000001") -> OutboxMessage:
    [row] = notify(
        kind="support.note",
        recipients=[Recipient(phone=phone)],
        context={"subject": "Hello", "message": "Your technician is on the way."},
    )
    return row


def test_an_sms_is_posted_to_twilio_with_basic_auth_and_the_message_fields(twilio):
    endpoint = accepted(twilio)
    row = sms_row()

    assert deliver(row.pk) is True

    [call] = endpoint.calls
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {expected}"
    assert sent_form(call) == {
        "To": "+919800000001",
        "From": "+15005550006",
        "Body": "Your technician is on the way.",
    }
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (OutboxMessage.Status.SENT, 1, "")


def test_a_messaging_service_sends_instead_of_a_from_number(twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "a" * 32
    endpoint = accepted(twilio)

    assert deliver(sms_row().pk) is True

    form = sent_form(endpoint.calls[0])
    assert form["MessagingServiceSid"] == "MG" + "a" * 32
    assert "From" not in form


def test_a_twilio_outage_is_retried_through_the_outbox_and_then_sent(twilio):
    outage = twilio.post(MESSAGES, status=503, json={"code": 20503, "message": "down"})
    row = sms_row()

    assert deliver(row.pk) is False
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxMessage.Status.PENDING, 1)
    assert row.last_error == "TwilioRestException on attempt 1"
    assert len(outage.calls) == 1

    twilio.remove(outage)
    endpoint = accepted(twilio)
    with time_machine.travel(row.available_at + timedelta(seconds=1)):
        assert dispatch_outbox() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxMessage.Status.SENT, 2)
    assert len(endpoint.calls) == 1


def test_a_number_twilio_refuses_fails_at_once_without_quoting_the_message(twilio):
    endpoint = refused(twilio, 400, 21211)
    row = sms_row(phone="+1555")

    assert deliver(row.pk) is False

    row.refresh_from_db()
    assert row.status == OutboxMessage.Status.FAILED
    assert row.attempts == 1
    assert row.last_error == (
        "Twilio refused the SMS: HTTP 400, error 21211 (attempt 1, not retried)"
    )
    assert len(endpoint.calls) == 1


def test_rejected_credentials_are_retried_not_failed(twilio):
    refused(twilio, 401, 20003)
    row = sms_row()

    assert deliver(row.pk) is False

    row.refresh_from_db()
    assert (row.status, row.last_error) == (
        OutboxMessage.Status.PENDING,
        "TwilioRestException on attempt 1",
    )


def test_a_staff_member_with_only_a_phone_gets_the_completion_code_and_it_completes_the_job(
    twilio, django_capture_on_commit_callbacks
):
    endpoint = accepted(twilio)
    partner = PartnerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        booking = confirmed_booking(partner=partner)
    staff = staff_of(partner, email="", phone="+919811122233")
    partner_client = authed_client(partner.user)
    path = f"/api/v1/provider/bookings/{booking.pk}"
    assert (
        partner_client.patch(f"{path}/assign", {"staff_id": staff.pk}, format="json").status_code
        == 200
    )
    arrival = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
    assert (
        partner_client.post(f"{path}/confirm-arrival", {"otp": arrival}, format="json").status_code
        == 200
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert partner_client.post(f"{path}/mark-complete").status_code == 200

    to_staff = [sent_form(c) for c in endpoint.calls if sent_form(c)["To"] == staff.phone]
    assert len(to_staff) == 1
    code = re.search(r"booking #\d+: (\d{6})", to_staff[0]["Body"]).group(1)
    verify = authed_client(booking.customer).post(
        f"/api/v1/bookings/{booking.pk}/verify-completion", {"otp": code}, format="json"
    )
    assert verify.status_code == 200
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.COMPLETED
