"""SMS delivery behind one tiny interface, chosen by ``settings.SMS_BACKEND``.

A backend is a class with ``send(*, to: str, body: str) -> None`` that raises on
failure. A real provider (Twilio, MSG91 ...) is one more class here.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


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
