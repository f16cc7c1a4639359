"""The embedded default's console emails are printed to be read: links, times and codes
come out whole (8bit UTF-8 bodies, not quoted-printable), headers in UTF-8."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

from tests.factories.otp import CODE_IN_MESSAGE, confirmed_booking

CONSOLE = "notifications.console_email.ConsoleEmailBackend"
LINK = "http://127.0.0.1:8100/sandbox/checkout/sbx_order_5f0c2a9e61d04b7c88aa" + "x" * 40
BODY = (
    f"Booking #12 with Sparkle Home Services on Tue 08 Dec, 09:00 IST is held for you. "
    f"Pay ₹499.00 here: {LINK}\nThanks, Asha’s team"
)


def printed(backend: str) -> str:
    stream = io.StringIO()
    connection = import_string(backend)(stream=stream)
    message = EmailMessage(subject="Booking #12 — ₹499.00 held", body=BODY, to=["asha@example.com"])
    connection.send_messages([message])
    return stream.getvalue()


def test_the_printed_email_has_the_link_and_the_text_unbroken():
    output = printed(CONSOLE)

    assert "Content-Transfer-Encoding: 8bit" in output
    assert 'Content-Type: text/plain; charset="utf-8"' in output
    assert "Subject: Booking #12 — ₹499.00 held" in output
    assert BODY in output  # the whole body as written: link on one line, 09:00, ₹, ’
    assert f"here: {LINK}\n" in output
    assert "=\n" not in output and "=E2=82=B9" not in output


def test_djangos_own_console_backend_breaks_them():
    # What the readable backend is for: the same email, quoted-printable.
    output = printed("django.core.mail.backends.console.EmailBackend")

    assert "quoted-printable" in output
    assert LINK not in output
    assert "=?utf-8?" in output


@pytest.mark.django_db
def test_the_arrival_code_email_is_printed_readably(
    settings, capsys, django_capture_on_commit_callbacks
):
    settings.MAILERS = {"default": {"BACKEND": CONSOLE, "OPTIONS": {}}}

    with django_capture_on_commit_callbacks(execute=True):
        booking = confirmed_booking()

    output = capsys.readouterr().out
    assert f"To: {booking.customer.email}" in output
    match = CODE_IN_MESSAGE.search(output)
    assert match is not None and int(match.group(1)) == booking.pk
    assert "Content-Transfer-Encoding: 8bit" in output
    assert "quoted-printable" not in output


def test_the_default_email_backend_is_the_readable_console():
    # A fresh process with no EMAIL_BACKEND and no DATABASE_URL: the embedded default.
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s; print(s.MAILERS['default']['BACKEND'])",
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == CONSOLE
