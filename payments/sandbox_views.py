"""The sandbox gateway's hosted pages (HTML): checkout with Pay/Fail, and the return page.

A checkout is finished once: after Pay, Fail or *Pay, lose the webhook* (or once our
payment left ``created`` some other way) the page shows the outcome and no buttons, and
a button posted anyway is refused with 409 and changes nothing, as a gateway would
refuse to charge an order that was paid or declined.

Pressing a button makes the "gateway" deliver a correctly signed webhook to
``POST /webhooks/sandbox``, exactly as a real gateway would: a request with the signed
raw body and headers goes through the URL resolver, every middleware and the webhook
view, whose signature check, ledger and effects are those of a delivery from outside.
"""

from __future__ import annotations

import functools
import io
import logging
import sys

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.views.decorators.http import require_GET, require_POST

from common.money import format_money
from payments.gateways.sandbox import build_payment_webhook, checkout_outcome, claim_checkout
from payments.models import Gateway, Payment

logger = logging.getLogger(__name__)

USER_AGENT = "Slotwise-Sandbox-Gateway/1.0"


def _sandbox_payment(order_id: str) -> Payment:
    if not settings.PAYMENT_SANDBOX_ENABLED:
        raise Http404("The sandbox gateway is disabled.")
    payment = (
        Payment.objects.select_related("booking", "booking__variant__service")
        .filter(gateway=Gateway.SANDBOX, order_id=order_id)
        .first()
    )
    if payment is None:
        raise Http404("No such sandbox order.")
    return payment


def finished_outcome(payment: Payment) -> str | None:
    """How the checkout of ``payment`` ended (``captured``, ``failed``,
    ``captured_webhook_lost``), or None while it can still be paid or declined."""
    recorded = checkout_outcome(payment.order_id)
    if recorded:
        return recorded
    if payment.status == Payment.Status.FAILED:
        return "failed"
    if payment.status != Payment.Status.CREATED:  # captured, maybe refunded since
        return "captured"
    return None


def _checkout_page(request, payment: Payment, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "payments/sandbox_checkout.html",
        {
            "payment": payment,
            "booking": payment.booking,
            "amount": format_money(payment.amount_minor, payment.currency, grouped=False),
            "outcome": finished_outcome(payment),
        },
        status=status,
    )


@require_GET
def checkout(request, order_id: str):
    return _checkout_page(request, _sandbox_payment(order_id))


def _finish(request, order_id: str, outcome: str, *, send_webhook: bool = True):
    """Finish the checkout with ``outcome`` once; a finished one is refused (409)."""
    payment = _sandbox_payment(order_id)
    if finished_outcome(payment) is not None or not claim_checkout(order_id, outcome):
        return _checkout_page(request, payment, status=409)
    sent = "captured" if outcome == "captured_webhook_lost" else outcome
    body, headers = build_payment_webhook(payment=payment, outcome=sent)
    if send_webhook:
        response = post_to_webhook_endpoint(request, body=body, headers=headers)
        if response.status_code != 200:
            # A gateway's page sends the customer back all the same; the return page
            # shows the payment as it stands.
            logger.error("sandbox webhook for %s answered %s", order_id, response.status_code)
    return redirect("sandbox-return", order_id=order_id)


@functools.cache
def _webhook_handler() -> BaseHandler:
    handler = BaseHandler()
    handler.load_middleware()
    return handler


def post_to_webhook_endpoint(
    request: HttpRequest, *, body: bytes, headers: dict[str, str]
) -> HttpResponse:
    """``POST /webhooks/sandbox`` with ``body`` and ``headers``, dispatched in this process.

    The request is built like the WSGI server builds one (raw body stream, ``HTTP_*``
    headers, the host the customer reached) and handled by Django's handler: URL
    resolver, middleware, the webhook view. Not over HTTP to ``PUBLIC_BASE_URL``: the
    embedded default serves from a single ``runserver`` process (and a one-worker
    gunicorn would deadlock waiting for itself), SQLite takes one writer at a time,
    and inside a container or behind a proxy the public URL may not be reachable from
    the server itself. In-process, the button's request holds no transaction, so the
    webhook's own transaction is the only writer. No ``request_started``/
    ``request_finished`` signals are sent: they would close the database connection the
    button's request is still using.
    """
    script_prefix = get_script_prefix()
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": script_prefix.rstrip("/"),
        "PATH_INFO": "/" + reverse("webhook-sandbox")[len(script_prefix) :],
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": request.META.get("SERVER_NAME", "localhost"),
        "SERVER_PORT": str(request.META.get("SERVER_PORT", "80")),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": request.get_host(),
        "HTTP_USER_AGENT": USER_AGENT,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return _webhook_handler().get_response(WSGIRequest(environ))


@require_POST
def pay(request, order_id: str):
    return _finish(request, order_id, "captured")


@require_POST
def pay_lost_webhook(request, order_id: str):
    """The sandbox takes the money and its webhook never arrives: only reconciliation
    (``reconcile_payments``, the beat job) confirms the booking."""
    return _finish(request, order_id, "captured_webhook_lost", send_webhook=False)


@require_POST
def fail(request, order_id: str):
    return _finish(request, order_id, "failed")


@require_GET
def payment_return(request, order_id: str):
    """Where the customer lands after the sandbox (or Stripe Checkout) page."""
    payment = Payment.objects.select_related("booking").filter(order_id=order_id).first()
    if payment is None:
        raise Http404("No such order.")
    return render(
        request,
        "payments/payment_return.html",
        {
            "payment": payment,
            "booking": payment.booking,
            "amount": format_money(payment.amount_minor, payment.currency, grouped=False),
        },
    )
