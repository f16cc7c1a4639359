"""SMS delivery behind one tiny interface, chosen by ``settings.SMS_BACKEND``.

A backend is a class with ``send(*, to: str, body: str) -> None`` that raises on
failure (the outbox retries it with a backoff) or raises
:class:`~notifications.errors.PermanentFailure` when retrying cannot help.
:class:`TwilioSmsBackend` sends through Twilio's official SDK; the console, dummy and
locmem backends are for development, benchmarks and tests.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from notifications.errors import PermanentFailure

# Twilio answers these for a message it will never send (a bad or unreachable number, an
# opted-out recipient): FAILED at once. 401/403 (credentials), 408, 429 and 5xx are retried.
TWILIO_RETRYABLE_4XX = {401, 403, 408, 409, 429}


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str) -> None: ...


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class ConsoleSmsBackend:
    """Writes the message to stdout, like Django's console email backend.

    This IS the outgoing message (it may contain a one-time code), so it goes to the
    process's stdout and deliberately not through ``logging``.
    """

    def send(self, *, to: str, body: str) -> None:
        stream = sys.stdout
        stream.write(f"--- SMS to {to} ---\n{body}\n")
        stream.flush()


class DummySmsBackend:
    """Discards the message (benchmarks), like Django's dummy email backend."""

    def send(self, *, to: str, body: str) -> None:
        return None


class TwilioSmsBackend:
    """Sends through Twilio's Messages API with the official ``twilio`` SDK.

    Credentials and sender come from settings (``TWILIO_*``); ``TWILIO_API_BASE`` points the
    SDK at another host (a fake in tests and black-box runs). The request is bounded by
    ``TWILIO_TIMEOUT_SECONDS``. Twilio accepting the message (201, status ``queued``) counts
    as sent; later carrier failures are Twilio's status callbacks, not handled here.
    """

    def __init__(self) -> None:
        self.client = TwilioClient(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=settings.TWILIO_TIMEOUT_SECONDS),
        )
        # The SDK builds every Messages URL from its Api domain's base URL.
        self.client.api.base_url = settings.TWILIO_API_BASE.rstrip("/")

    def send(self, *, to: str, body: str) -> None:
        sender = (
            {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
            if settings.TWILIO_MESSAGING_SERVICE_SID
            else {"from_": settings.TWILIO_FROM_NUMBER}
        )
        try:
            self.client.messages.create(to=to, body=body, **sender)
        except TwilioRestException as exc:
            if 400 <= exc.status < 500 and exc.status not in TWILIO_RETRYABLE_4XX:
                # The status and Twilio's error code only: its message quotes the number.
                raise PermanentFailure(
                    f"Twilio refused the SMS: HTTP {exc.status}, error {exc.code}"
                ) from None
            raise


# Messages "sent" by LocmemSmsBackend, for tests (like django.core.mail.outbox).
outbox: list[SmsMessage] = []
_outbox_lock = threading.Lock()


class LocmemSmsBackend:
    """Keeps messages in ``notifications.sms.outbox`` (tests)."""

    def send(self, *, to: str, body: str) -> None:
        with _outbox_lock:
            outbox.append(SmsMessage(to=to, body=body))


def send_sms(*, to: str, body: str) -> None:
    """Send one SMS through the configured backend; raises when the backend fails."""
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    backend.send(to=to, body=body)
