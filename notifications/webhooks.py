"""Outbound partner webhooks: booking events, signed, delivered through the outbox.

Writing: ``notifications.services.queue_partner_webhook`` runs inside the transaction
of a booking's status change (called by ``bookings.notices`` with the event's data
snapshotted) and inserts one ``webhook`` outbox row when the partner has a webhook URL.
The row holds the exact JSON body to send and the event id, so every attempt sends the
same bytes and the same ``Slotwise-Event-Id`` (partners deduplicate on it).

Sending: :func:`send_partner_webhook` is called by the dispatcher
(``notifications.delivery``) outside any transaction. The body is signed at send time
with the partner's *current* secret, Stripe-style::

    Slotwise-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

``X-Request-ID`` names the request (or task) that made the event, for support to follow
one booking across our logs and the partner's.

2xx is delivered; a network error, a 5xx or a 429 is retried with the outbox backoff;
any other answer (4xx, 3xx) is final (FAILED at once, visible in the admin outbox).
The secret is never stored in the row, logged or put in ``last_error``.

Configuring: :func:`configure_partner_webhook` (provider API ``/provider/webhook``)
sets the URL and generates or rotates the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from common.locking import lock
from common.request_id import HEADER as REQUEST_ID_HEADER
from common.request_id import current_request_id
from notifications.errors import InvalidWebhookUrl, PermanentFailure, SkipMessage
from notifications.models import OutboxMessage
from notifications.ssrf import (
    UnresolvableHost,
    UnsafeDestination,
    checked_address,
    post_to_checked_address,
)
from partners.models import Partner

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Slotwise-Signature"
EVENT_ID_HEADER = "Slotwise-Event-Id"
EVENT_TYPE_HEADER = "Slotwise-Event-Type"
USER_AGENT = "Slotwise-Webhooks/1.0"

# The events a partner hears about (``bookings.notices`` decides when each is sent).
EVENT_TYPES: tuple[str, ...] = (
    "booking.confirmed",
    "booking.cancelled",
    "booking.in_progress",
    "booking.awaiting_completion",
    "booking.completed",
    "booking.rescheduled",
    "booking.reassigned",
)


class PartnerEndpointUnavailable(Exception):
    """The partner's endpoint answered 5xx or 429: worth retrying later."""


PRIVATE_ADDRESS_PROBLEM = "must not point to a private, loopback or reserved address."


def timeout_seconds() -> float:
    return float(settings.PARTNER_WEBHOOK_TIMEOUT_SECONDS)


def insecure_urls_allowed() -> bool:
    """http:// and local/private hosts are accepted only in development (or when asked)."""
    return settings.PARTNER_WEBHOOK_ALLOW_INSECURE_URLS


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None when it can (no DNS lookup).

    Outside development the URL must be https, carry no credentials and not name a
    loopback, private, link-local or reserved IP address (or ``localhost``), so the
    API cannot be used to make our workers call internal services. A host name is
    checked where it matters, when it is resolved: :func:`resolved_url_problem` when
    the URL is configured, and every delivery (:mod:`notifications.ssrf`).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "is not a valid URL."
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http(s) URL with a host."
    if parts.username or parts.password:
        return "must not contain credentials."
    if insecure_urls_allowed():
        return None
    if parts.scheme != "https":
        return "must use https."
    if host == "localhost" or host.endswith(".localhost"):
        return "must not point to this machine."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return PRIVATE_ADDRESS_PROBLEM
    return None


def resolved_url_problem(url: str) -> str | None:
    """:func:`webhook_url_problem`, and outside development a host name that resolves to
    a non-public address now. A name that does not resolve yet is accepted: every
    delivery resolves it again and refuses a non-public address."""
    problem = webhook_url_problem(url)
    if problem or insecure_urls_allowed():
        return problem
    parts = urlsplit(url)
    try:
        checked_address(parts.hostname or "", parts.port or 443)
    except UnsafeDestination:
        return PRIVATE_ADDRESS_PROBLEM
    except UnresolvableHost:
        return None
    return None


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The ``Slotwise-Signature`` header value of ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@transaction.atomic
def configure_partner_webhook(
    *, partner_id: int, url: str, rotate_secret: bool = False
) -> tuple[Partner, str | None]:
    """Set the partner's webhook URL ("" turns webhooks off); returns (partner, new secret).

    A secret is generated when the partner gets a URL and has none yet, or when
    ``rotate_secret`` is true; the new secret is returned once (None when unchanged)
    and takes effect for every delivery from now on, including queued retries.
    The partner row is locked, so two concurrent calls cannot both hand out a secret
    of which only one is stored. Raises :class:`InvalidWebhookUrl` for an unusable URL
    (nothing is changed).
    """
    problem = resolved_url_problem(url) if url else None
    if problem:
        raise InvalidWebhookUrl(f"The webhook URL {problem}", errors={"url": [problem]})
    partner = lock(Partner.objects.filter(pk=partner_id)).get()
    new_secret = None
    if rotate_secret or (url and not partner.webhook_secret):
        new_secret = generate_secret()
        partner.webhook_secret = new_secret
    partner.webhook_url = url
    partner.save(update_fields=["webhook_url", "webhook_secret"])
    return partner, new_secret


def send_partner_webhook(message: OutboxMessage) -> None:
    """POST one webhook row to the partner's current URL, signed with its current secret.

    Returns on 2xx. Raises :class:`SkipMessage` when the partner no longer wants
    webhooks, :class:`PermanentFailure` when retrying cannot help (4xx, 3xx, no secret,
    unusable URL), and :class:`PartnerEndpointUnavailable` or a ``requests`` error when
    a later attempt may succeed. Never call it inside a transaction.
    """
    partner = (
        Partner.objects.filter(pk=message.payload.get("partner_id"))
        .only("webhook_url", "webhook_secret")
        .first()
    )
    if partner is None or not partner.webhook_url:
        raise SkipMessage("the partner has no webhook URL any more")
    if not partner.webhook_secret:
        raise PermanentFailure("the partner has no webhook signing secret")
    problem = webhook_url_problem(partner.webhook_url)
    if problem:
        raise PermanentFailure(f"the webhook URL {problem}")

    body = message.body.encode()
    event_id = message.payload.get("event_id", "")
    request_id = message.payload.get("request_id") or current_request_id()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: message.kind,
        SIGNATURE_HEADER: sign(
            secret=partner.webhook_secret, body=body, timestamp=int(time.time())
        ),
    }
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    # Resolved now, refused when not public, and sent to the address that was checked
    # (no second lookup). Streamed: we never read the partner's answer.
    try:
        response = post_to_checked_address(
            partner.webhook_url,
            data=body,
            headers=headers,
            timeout=timeout_seconds(),
            allow_private=insecure_urls_allowed(),
        )
    except UnsafeDestination as exc:
        raise PermanentFailure(f"the webhook URL {PRIVATE_ADDRESS_PROBLEM} ({exc})") from None
    except UnresolvableHost as exc:
        raise PartnerEndpointUnavailable(str(exc)) from None
    with response:
        code = response.status_code
    if 200 <= code < 300:
        return
    logger.warning("partner webhook %s (%s): HTTP %s", message.pk, event_id, code)
    if code >= 500 or code == 429:
        raise PartnerEndpointUnavailable(f"HTTP {code}")
    raise PermanentFailure(f"HTTP {code} from the partner's endpoint")
