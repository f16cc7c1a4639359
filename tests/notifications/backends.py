"""Email backends for the outbox tests."""

import smtplib
import threading

from django.core.mail.backends.locmem import EmailBackend as LocmemEmailBackend


class FailingEmailBackend(LocmemEmailBackend):
    """Raises on the first ``failures`` sends (process-wide), then delivers to mail.outbox."""

    failures = 1
    calls = 0
    _lock = threading.Lock()

    @classmethod
    def reset(cls, failures: int = 1) -> None:
        cls.failures, cls.calls = failures, 0

    def send_messages(self, messages):
        with self._lock:
            type(self).calls += 1
            failing = type(self).calls <= type(self).failures
        if failing:
            raise smtplib.SMTPServerDisconnected("connection dropped")
        return super().send_messages(messages)
