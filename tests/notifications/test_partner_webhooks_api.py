"""Provider API for the partner's webhook: own settings only, secret shown once, URL checks."""

import pytest

from conftest import authed_client
from notifications.models import OutboxMessage
from notifications.webhooks import InvalidWebhookUrl, configure_partner_webhook
from tests.factories.otp import confirmed_booking
from tests.factories.partners import PartnerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/provider/webhook"
HOOK_URL = "https://partner.example/slotwise-hook"


@pytest.fixture
def partner():
    return PartnerFactory()


@pytest.fixture
def partner_client(partner):
    return authed_client(partner.user)


def test_a_new_partner_has_no_webhook_and_no_secret(partner_client):
    response = partner_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "url": "",
        "secret_set": False,
        "events": [
            "booking.awaiting_completion",
            "booking.cancelled",
            "booking.completed",
            "booking.confirmed",
            "booking.in_progress",
            "booking.reassigned",
            "booking.rescheduled",
        ],
    }


def test_setting_a_url_generates_a_secret_shown_only_in_that_response(partner, partner_client):
    response = partner_client.put(URL, {"url": HOOK_URL}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["url"] == HOOK_URL and body["secret_set"] is True
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    partner.refresh_from_db()
    assert (partner.webhook_url, partner.webhook_secret) == (HOOK_URL, body["secret"])

    shown = partner_client.get(URL).json()
    assert "secret" not in shown and shown["secret_set"] is True

    changed = partner_client.put(URL, {"url": HOOK_URL + "/v2"}, format="json").json()
    assert "secret" not in changed
    partner.refresh_from_db()
    assert (partner.webhook_url, partner.webhook_secret) == (HOOK_URL + "/v2", body["secret"])


def test_rotating_replaces_the_secret_and_returns_the_new_one(partner, partner_client):
    first = partner_client.put(URL, {"url": HOOK_URL}, format="json").json()["secret"]

    response = partner_client.put(URL, {"url": HOOK_URL, "rotate_secret": True}, format="json")

    assert response.status_code == 200
    second = response.json()["secret"]
    assert second != first
    partner.refresh_from_db()
    assert partner.webhook_secret == second


def test_a_partner_sees_and_changes_only_its_own_webhook(partner, partner_client):
    other = PartnerFactory(webhook_url="https://other.example/hook", webhook_secret="whsec_other")

    partner_client.put(URL, {"url": HOOK_URL, "rotate_secret": True}, format="json")
    other_view = authed_client(other.user).get(URL).json()

    assert other_view["url"] == "https://other.example/hook"
    assert "secret" not in other_view
    other.refresh_from_db()
    assert (other.webhook_url, other.webhook_secret) == (
        "https://other.example/hook",
        "whsec_other",
    )
    partner.refresh_from_db()
    assert partner.webhook_url == HOOK_URL


def test_customers_and_anonymous_users_cannot_use_the_endpoint(customer_client, api_client):
    assert customer_client.get(URL).status_code == 403
    assert customer_client.put(URL, {"url": HOOK_URL}, format="json").status_code == 403
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize(
    "bad_url",
    [
        "not a url",
        "ftp://partner.example/hook",
        "http://partner.example/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://user:pass@partner.example/hook",
    ],
)
def test_an_unusable_url_is_a_400_problem_and_changes_nothing(partner, partner_client, bad_url):
    partner.webhook_url, partner.webhook_secret = HOOK_URL, "whsec_kept"
    partner.save()

    response = partner_client.put(URL, {"url": bad_url, "rotate_secret": True}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "validation_error" and "url" in problem["errors"]
    partner.refresh_from_db()
    assert (partner.webhook_url, partner.webhook_secret) == (HOOK_URL, "whsec_kept")


def test_http_and_local_urls_are_allowed_when_insecure_urls_are_enabled(
    settings, partner, partner_client
):
    settings.PARTNER_WEBHOOK_ALLOW_INSECURE_URLS = True

    response = partner_client.put(URL, {"url": "http://127.0.0.1:9000/hook"}, format="json")

    assert response.status_code == 200
    partner.refresh_from_db()
    assert partner.webhook_url == "http://127.0.0.1:9000/hook"


def test_the_service_rejects_an_unusable_url_too(partner):
    with pytest.raises(InvalidWebhookUrl):
        configure_partner_webhook(partner_id=partner.pk, url="https://192.168.0.10/hook")
    partner.refresh_from_db()
    assert (partner.webhook_url, partner.webhook_secret) == ("", "")


def test_an_empty_url_turns_webhooks_off(partner, partner_client):
    partner_client.put(URL, {"url": HOOK_URL}, format="json")

    response = partner_client.put(URL, {"url": ""}, format="json")

    assert response.status_code == 200
    assert response.json()["url"] == "" and "secret" not in response.json()
    confirmed_booking(partner=partner)
    assert not OutboxMessage.objects.filter(channel=OutboxMessage.Channel.WEBHOOK).exists()
