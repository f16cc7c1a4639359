"""Partner webhook URLs cannot reach our own network, whatever their names resolve to
(issue 13 #2). Names resolve through a stubbed resolver (conftest.fake_dns)."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import responses

from notifications.delivery import deliver
from notifications.models import OutboxMessage
from notifications.webhooks import configure_partner_webhook
from tests.factories.otp import confirmed_booking
from tests.factories.partners import PartnerFactory
from tests.notifications.conftest import PUBLIC_ADDRESS

pytestmark = pytest.mark.django_db

SECRET = "whsec_test-secret-0123456789"
API = "/api/v1/provider/webhook"


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def queued_row(url: str) -> OutboxMessage:
    confirmed_booking(partner=PartnerFactory(webhook_url=url, webhook_secret=SECRET))
    return OutboxMessage.objects.get(channel=OutboxMessage.Channel.WEBHOOK)


@pytest.mark.parametrize(
    "url",
    [
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://127.0.0.1.nip.io/hook",
        "https://split.example/hook",  # one public and one private address
        "https://mapped.example/hook",  # ::ffff:192.168.1.1
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused_and_nothing_changes(url):
    from conftest import authed_client

    partner = PartnerFactory(webhook_url="https://partner.example/hook", webhook_secret="whsec_k")

    response = authed_client(partner.user).put(API, {"url": url}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert "must not point to a private" in response.json()["errors"]["url"][0]
    partner.refresh_from_db()
    assert (partner.webhook_url, partner.webhook_secret) == (
        "https://partner.example/hook",
        "whsec_k",
    )


def test_a_name_that_does_not_resolve_yet_is_accepted_and_checked_at_delivery():
    partner = PartnerFactory()

    configured, secret = configure_partner_webhook(
        partner_id=partner.pk, url="https://not-yet.example/hook"
    )

    assert configured.webhook_url == "https://not-yet.example/hook" and secret


def test_a_name_rebound_to_a_private_address_after_configuration_is_never_called(http, fake_dns):
    row = queued_row("https://partner.example/hook")
    fake_dns.table["partner.example"] = ["169.254.169.254"]

    assert deliver(row.pk) is False

    row.refresh_from_db()
    assert row.status == "failed"
    assert "must not point to a private, loopback or reserved address" in row.last_error
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("name", "sent_to"),
    [
        ("partner.example", f"https://{PUBLIC_ADDRESS}/hook?x=1"),
        ("v6.example", "https://[2606:2800:220:1:248:1893:25c8:1946]/hook?x=1"),
    ],
)
def test_delivery_resolves_once_and_connects_to_the_checked_address(http, fake_dns, name, sent_to):
    row = queued_row(f"https://{name}/hook?x=1")
    http.post(sent_to, status=200)
    fake_dns.lookups.clear()

    class Rebinding(dict):
        """Public on the first lookup, loopback on any later one (DNS rebinding)."""

        def __getitem__(self, key):
            answer = super().__getitem__(key)
            self[key] = ["127.0.0.1"]
            return answer

    fake_dns.table = Rebinding(fake_dns.table)

    assert deliver(row.pk) is True

    assert fake_dns.lookups == [name]
    assert len(http.calls) == 1
    request = http.calls[0].request
    assert request.url == sent_to
    assert request.headers["Host"] == name


def test_a_name_that_does_not_resolve_at_delivery_is_retried_later(http):
    row = queued_row("https://gone.example/hook")

    assert deliver(row.pk) is False

    row.refresh_from_db()
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error.startswith("PartnerEndpointUnavailable")
    assert len(http.calls) == 0


def test_the_connection_really_goes_to_the_checked_address(settings, fake_dns):
    """Over real sockets (development mode allows a loopback address): the name exists only
    in the stub resolver, so the request can reach the server only through the address
    that was checked, with the name in the Host header."""
    settings.PARTNER_WEBHOOK_ALLOW_INSECURE_URLS = True
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append({"host": self.headers["Host"], "body": self.rfile.read(length)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        fake_dns.table["hooks.partner.test"] = ["127.0.0.1"]
        row = queued_row(f"http://hooks.partner.test:{port}/hook")

        assert deliver(row.pk) is True
    finally:
        server.shutdown()
        server.server_close()
    assert [r["host"] for r in received] == [f"hooks.partner.test:{port}"]
    assert received[0]["body"] == row.body.encode()
