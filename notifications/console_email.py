"""The console email backend of the embedded default, printed to be read.

Django's console backend prints the message as it would go over SMTP: a body with
non-ASCII text or lines over 78 characters is quoted-printable, so a payment link is cut
across lines with ``=`` and a time reads ``09=`` / ``:00 IST``, and a non-ASCII subject
is RFC 2047-encoded. In a demo those printed emails are where the codes and links are,
so this backend prints text parts as UTF-8 with ``Content-Transfer-Encoding: 8bit``
(lines as written) and headers in UTF-8. Only what is printed changes; attachments and
the other backends are untouched.
"""

from __future__ import annotations

import email.policy

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend

READABLE = email.policy.default.clone(utf8=True)


def readable(message) -> str:
    """``message`` (a Django ``EmailMessage``) as text: UTF-8 headers, 8bit text bodies."""
    msg = message.message(policy=READABLE)
    for part in msg.walk():
        if (
            part.get_content_maintype() == "text"
            and not part.is_multipart()
            and not part.is_attachment()
        ):
            part.set_content(
                part.get_content(),
                subtype=part.get_content_subtype(),
                charset="utf-8",
                cte="8bit",
            )
    return msg.as_bytes().decode("utf-8")


class ConsoleEmailBackend(DjangoConsoleBackend):
    """Django's console backend writing :func:`readable` messages."""

    def write_message(self, message) -> None:
        self.stream.write(f"{readable(message)}\n")
        self.stream.write("-" * 79)
        self.stream.write("\n")
