"""Stripe's and Razorpay's refund endpoints, faked at the HTTP boundary with ``responses``.

:class:`FakeRefunds` answers the way the gateway does: one refund per idempotency key (a
repeated key gets the refund it made the first time, also when the first answer never
arrived), the refund carrying the ``idempotency_key`` we put in its metadata/notes.
Its refunds can be reported back through the real webhook endpoints, signed with the
gateway's scheme (helpers of ``tests.payments.conftest``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from urllib.parse import parse_qs

import requests
import responses
from django.db import connection

from tests.payments.conftest import (
    post_webhook,
    razorpay_delivery,
    stripe_delivery,
    stripe_event,
)
from tests.refunds.conftest import RAZORPAY_BASE, STRIPE_BASE

KEY_HEADERS = {"stripe": "Idempotency-Key", "razorpay": "X-Refund-Idempotency"}


class FakeRefunds:
    """``FakeRefunds("stripe", payment).install()`` inside ``@responses.activate``.

    - ``outcome``: ``"processed"`` (Stripe ``succeeded``) or ``"pending"``;
    - ``lose_answers``: that many answers are lost (the refund is made, the caller gets
      a connection error), like a response dropped on the way back;
    - ``on_request(sent)``: called first thing on every request;
    - ``while_in_flight(refund)``: called while a new refund's request is still open
      (e.g. to deliver its webhook before our task has the answer);
    - ``atomic_block_seen``: ``connection.in_atomic_block`` at each request.
    """

    def __init__(self, gateway: str, payment, *, outcome: str = "processed") -> None:
        self.gateway = gateway
        self.payment = payment
        self.outcome = outcome
        self.lose_answers = 0
        self.on_request: Callable[[dict], object] | None = None
        self.while_in_flight: Callable[[dict], object] | None = None
        self.atomic_block_seen: list[bool] = []
        self.refunds: dict[str, dict] = {}  # by idempotency key
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self.gateway == "stripe":
            return f"{STRIPE_BASE}/v1/refunds"
        return f"{RAZORPAY_BASE}/v1/payments/{self.payment.payment_id}/refund"

    def install(self) -> FakeRefunds:
        responses.add_callback(responses.POST, self.url, callback=self._answer)
        return self

    def sent(self) -> list[dict]:
        """What each request sent: ``{"key", "amount", "reference"}`` (lost ones too)."""
        return [
            self._read(call.request) for call in responses.calls if call.request.url == self.url
        ]

    def refund_for(self, refund) -> dict:
        return self.refunds[refund.idempotency_key]

    def _read(self, request) -> dict:
        key = request.headers.get(KEY_HEADERS[self.gateway], "")
        if self.gateway == "stripe":
            form = {k: v[0] for k, v in parse_qs(request.body).items()}
            amount, reference = int(form["amount"]), form.get("metadata[idempotency_key]", "")
        else:
            body = json.loads(request.body)
            amount, reference = body["amount"], body.get("notes", {}).get("idempotency_key", "")
        return {"key": key, "amount": amount, "reference": reference}

    def _answer(self, request):
        self.atomic_block_seen.append(connection.in_atomic_block)
        sent = self._read(request)
        if self.on_request is not None:
            self.on_request(sent)
        with self._lock:
            refund = self.refunds.get(sent["key"])
            new = refund is None
            if new:
                refund = self._new_refund(sent)
                self.refunds[sent["key"]] = refund
            lost = self.lose_answers > 0
            self.lose_answers -= int(lost)
        if new and self.while_in_flight is not None:
            self.while_in_flight(refund)
        if lost:
            return requests.ConnectionError("connection reset by peer")
        return 200, {}, json.dumps(refund)

    def _new_refund(self, sent: dict) -> dict:
        number = len(self.refunds) + 1
        if self.gateway == "stripe":
            return {
                "id": f"re_fake_{number}",
                "object": "refund",
                "amount": sent["amount"],
                "currency": self.payment.currency.lower(),
                "payment_intent": self.payment.payment_id,
                "status": "succeeded" if self.outcome == "processed" else "pending",
                "metadata": {
                    "booking_id": str(self.payment.booking_id),
                    "idempotency_key": sent["reference"],
                },
            }
        return {
            "id": f"rfnd_fake_{number}",
            "entity": "refund",
            "amount": sent["amount"],
            "currency": self.payment.currency,
            "payment_id": self.payment.payment_id,
            "status": self.outcome,
            "notes": {
                "booking_id": str(self.payment.booking_id),
                "idempotency_key": sent["reference"],
            },
        }

    def webhook(
        self, refund: dict, *, succeeded: bool, event_type: str | None = None, event_id=None
    ) -> tuple[bytes, dict]:
        """(raw body, test-client headers) of the gateway's signed event about ``refund``:
        Stripe ``refund.updated`` (or ``event_type``), Razorpay ``refund.processed`` /
        ``refund.failed``."""
        if self.gateway == "stripe":
            obj = {**refund, "status": "succeeded" if succeeded else "failed"}
            if not succeeded:
                obj["failure_reason"] = "expired_or_canceled_card"
            payload = stripe_event(event_type or "refund.updated", obj, event_id=event_id)
            return stripe_delivery(payload)
        entity = {**refund, "status": "processed" if succeeded else "failed"}
        payload = {
            "entity": "event",
            "event": event_type or ("refund.processed" if succeeded else "refund.failed"),
            "contains": ["refund", "payment"],
            "payload": {"refund": {"entity": entity}},
        }
        return razorpay_delivery(payload, event_id=event_id)

    def deliver(self, client, webhook: tuple[bytes, dict]):
        body, headers = webhook
        response = post_webhook(client, self.gateway, body, headers)
        assert response.status_code == 200, response.content
        return response
