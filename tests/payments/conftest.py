"""Payment test helpers: gateway secrets, and webhook bodies signed with each gateway's
real scheme (Razorpay/sandbox: hex HMAC-SHA256 of the raw body; Stripe: the SDK's own
``t=...,v1=...`` header)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time

import pytest
import stripe
from django.conf import settings as django_settings

RAZORPAY_WEBHOOK_SECRET = "rzp-webhook-secret-for-tests"
RAZORPAY_KEY_SECRET = "rzp-key-secret-for-tests"
STRIPE_WEBHOOK_SECRET = "whsec_test_secret_for_tests"
SANDBOX_SECRET = "sandbox-secret-for-tests"


@pytest.fixture(autouse=True)
def gateway_settings(settings):
    settings.RAZORPAY_KEY_ID = "rzp_test_key"
    settings.RAZORPAY_KEY_SECRET = RAZORPAY_KEY_SECRET
    settings.RAZORPAY_WEBHOOK_SECRET = RAZORPAY_WEBHOOK_SECRET
    settings.RAZORPAY_API_BASE = "https://razorpay.fake"
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.STRIPE_API_BASE = "https://stripe.fake"
    settings.SANDBOX_WEBHOOK_SECRET = SANDBOX_SECRET
    settings.PAYMENT_SANDBOX_ENABLED = True
    settings.PUBLIC_BASE_URL = "http://testserver"
    return settings


def hmac_hex(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def razorpay_payment_event(
    event: str,
    *,
    order_id: str,
    amount: int,
    currency: str = "INR",
    payment_id: str | None = None,
    booking_id: int | None = None,
) -> dict:
    entity = {
        "id": payment_id or "pay_" + secrets.token_hex(7),
        "entity": "payment",
        "amount": amount,
        "currency": currency,
        "status": "captured" if event != "payment.failed" else "failed",
        "order_id": order_id,
        "notes": {"booking_id": str(booking_id)} if booking_id else [],
    }
    payload = {"payment": {"entity": entity}}
    if event == "order.paid":
        payload["order"] = {"entity": {"id": order_id, "amount_paid": amount, "currency": currency}}
    return {"entity": "event", "event": event, "contains": ["payment"], "payload": payload}


def razorpay_delivery(payload: dict, *, secret: str = RAZORPAY_WEBHOOK_SECRET, event_id=None):
    """(raw body, Django test-client headers) of a Razorpay webhook delivery."""
    body = json.dumps(payload).encode()
    headers = {"HTTP_X_RAZORPAY_SIGNATURE": hmac_hex(body, secret)}
    headers["HTTP_X_RAZORPAY_EVENT_ID"] = event_id or "evt_" + secrets.token_hex(7)
    return body, headers


def stripe_event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def stripe_delivery(payload: dict, *, secret: str = STRIPE_WEBHOOK_SECRET, timestamp=None):
    body = json.dumps(payload).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return body, {"HTTP_STRIPE_SIGNATURE": header}


def post_webhook(client, gateway: str, body: bytes, headers: dict):
    return client.post(
        f"/webhooks/{gateway}", data=body, content_type="application/json", **headers
    )


PRINT_PAYMENT_SETTINGS = (
    "import json, config.settings as s; print(json.dumps("
    "{'PAYMENT_DEFAULT_GATEWAY': s.PAYMENT_DEFAULT_GATEWAY, "
    "'PAYMENT_SANDBOX_ENABLED': s.PAYMENT_SANDBOX_ENABLED}))"
)


def import_settings(**env: str) -> subprocess.CompletedProcess:
    """Import config.settings in a new interpreter with only ``env`` set among the mode
    and payment variables (the rest of this process's environment is kept): the suite
    itself runs in production mode with the sandbox opted in (see the Makefile)."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith(("PAYMENT_", "SANDBOX_"))
    }
    clean.update(SECRET_KEY="settings-test-secret-key", **env)
    return subprocess.run(
        [sys.executable, "-c", PRINT_PAYMENT_SETTINGS],
        cwd=django_settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def payment_settings(**env: str) -> dict:
    """The payment settings a process started with ``env`` really gets."""
    result = import_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
