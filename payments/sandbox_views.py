"""The sandbox gateway's hosted pages (HTML): checkout with Pay/Fail, and the return page.

Pressing a button makes the "gateway" deliver a correctly signed webhook. It is
delivered in-process: the exact body and headers go through
:func:`payments.webhooks.receive_webhook`, the same verification and processing as a
``POST /webhooks/sandbox`` from outside, without needing the server to reach its own
``PUBLIC_BASE_URL`` (single-threaded dev servers, containers, offline demos).
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from payments.gateways.sandbox import build_payment_webhook
from payments.models import Gateway, Payment
from payments.webhooks import receive_webhook


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


def format_minor(amount_minor: int, currency: str) -> str:
    """``49900, "INR"`` -> ``"INR 499.00"`` (two decimals; integer arithmetic only)."""
    return f"{currency} {amount_minor // 100}.{amount_minor % 100:02d}"


@require_GET
def checkout(request, order_id: str):
    payment = _sandbox_payment(order_id)
    return render(
        request,
        "payments/sandbox_checkout.html",
        {
            "payment": payment,
            "booking": payment.booking,
            "amount": format_minor(payment.amount_minor, payment.currency),
        },
    )


def _deliver(request, order_id: str, outcome: str):
    payment = _sandbox_payment(order_id)
    body, headers = build_payment_webhook(payment=payment, outcome=outcome)
    receive_webhook(gateway=Gateway.SANDBOX, body=body, headers=headers)
    return redirect("sandbox-return", order_id=order_id)


@require_POST
def pay(request, order_id: str):
    return _deliver(request, order_id, "captured")


@require_POST
def fail(request, order_id: str):
    return _deliver(request, order_id, "failed")


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
            "amount": format_minor(payment.amount_minor, payment.currency),
        },
    )
