"""Property: whatever the order of captures, lost, duplicate and late webhooks, cancels by
both sides, manual refunds, gateway refund outcomes, disputes, retries and reconciliation
runs, the money invariant holds after every step (``check_money`` finds no violation), and
neither we nor the gateway ever refund more than was captured.

Real PostgreSQL, the real webhook endpoint, services and Celery tasks (eager); Razorpay is
faked at the HTTP boundary by :class:`FakeRazorpay` (``responses``), which keeps the
gateway's own books: a capture, refunds per idempotency key, at most what was captured,
none while a chargeback is open, and chargebacks only for what was not refunded.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from datetime import timedelta

import pytest
import responses
from django.db import transaction
from django.test import TestCase
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bookings.models import Booking, BookingStatus
from bookings.services import expire_due_holds
from common.problems import DomainError
from partners.models import Slot
from payments.models import Payment
from refunds import services
from refunds.cancellation import cancel_booking
from refunds.models import Refund
from refunds.services.money import check_money
from refunds.services.reconciliation import reconcile_payments
from tests.factories.bookings import BookingFactory
from tests.factories.partners import SlotFactory, StaffFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import post_webhook, razorpay_delivery, razorpay_payment_event
from tests.refunds.conftest import RAZORPAY_BASE

OPERATIONS = (
    "pay",
    "pay_webhook_lost",
    "redeliver_last_webhook",
    "order_paid_webhook",
    "expire_hold",
    "seat_taken",
    "customer_cancels",
    "provider_cancels",
    "manual_refund",
    "gateway_settles_refunds",
    "gateway_fails_a_refund",
    "retry_failed_refunds",
    "dispute_opened",
    "dispute_lost",
    "dispute_won",
    "reconcile",
)


class FakeRazorpay:
    """Razorpay's side of one payment: orders, refunds by id and key, chargebacks."""

    def __init__(self, payment: Payment, mock: responses.RequestsMock) -> None:
        self.payment = payment
        self.pay_id = "pay_" + secrets.token_hex(6)
        self.captured = False
        self.refunds: dict[str, dict] = {}  # by idempotency key
        self.dispute: dict | None = None
        self.refund_status = "processed"
        mock.add_callback(
            responses.GET,
            f"{RAZORPAY_BASE}/v1/orders/{payment.order_id}/payments",
            callback=self._order_payments,
        )
        mock.add_callback(
            responses.POST,
            f"{RAZORPAY_BASE}/v1/payments/{self.pay_id}/refund",
            callback=self._refund,
        )
        mock.add_callback(
            responses.GET, re.compile(rf"{RAZORPAY_BASE}/v1/refunds/.+"), callback=self._fetch
        )

    # what the gateway has done
    def refunded(self, *statuses: str) -> int:
        return sum(r["amount"] for r in self.refunds.values() if r["status"] in statuses)

    def disputable(self) -> int:
        if not self.captured or self.dispute is not None:
            return 0
        return self.payment.amount_minor - self.refunded("processed", "pending")

    # HTTP
    def _order_payments(self, request):
        items = []
        if self.captured:
            items.append(
                {
                    "id": self.pay_id,
                    "entity": "payment",
                    "amount": self.payment.amount_minor,
                    "currency": "INR",
                    "status": "captured",
                    "captured": True,
                    "order_id": self.payment.order_id,
                }
            )
        return 200, {}, json.dumps({"entity": "collection", "count": len(items), "items": items})

    def _refund(self, request):
        key = request.headers["X-Refund-Idempotency"]
        body = json.loads(request.body)
        if key in self.refunds:
            return 200, {}, json.dumps(self.refunds[key])
        room = self.payment.amount_minor - self.refunded("processed", "pending")
        if self.dispute is not None and self.dispute["status"] not in ("won", "lost"):
            return (
                400,
                {},
                json.dumps({"error": {"code": "BAD_REQUEST_ERROR", "description": "disputed"}}),
            )
        if not self.captured or body["amount"] > room:
            return (
                400,
                {},
                json.dumps({"error": {"code": "BAD_REQUEST_ERROR", "description": "too much"}}),
            )
        refund = {
            "id": f"rfnd_{secrets.token_hex(6)}",
            "entity": "refund",
            "amount": body["amount"],
            "currency": "INR",
            "payment_id": self.pay_id,
            "notes": body.get("notes", {}),
            "status": self.refund_status,
        }
        self.refunds[key] = refund
        return 200, {}, json.dumps(refund)

    def _fetch(self, request):
        refund_id = request.url.rsplit("/", 1)[-1]
        for refund in self.refunds.values():
            if refund["id"] == refund_id:
                return 200, {}, json.dumps(refund)
        return 400, {}, json.dumps({"error": {"code": "BAD_REQUEST_ERROR"}})


class Run:
    """One example: a booking of the last seat of a slot, paid through the fake gateway."""

    def __init__(self, client, mock) -> None:
        slot = SlotFactory(capacity=1, start=timezone.now() + timedelta(hours=30))
        self.booking = BookingFactory(slot=slot, amount_minor=10001)
        self.booking.assigned_staff = StaffFactory(partner=self.booking.partner)
        self.booking.save(update_fields=["assigned_staff"])
        self.payment = PaymentFactory(
            booking=self.booking, gateway="razorpay", order_id="order_" + secrets.token_hex(6)
        )
        self.gateway = FakeRazorpay(self.payment, mock)
        self.client = client
        self.last_delivery = None

    def deliver(self, payload: dict, *, event_id: str | None = None) -> None:
        self.last_delivery = razorpay_delivery(payload, event_id=event_id)
        self.redeliver()

    def redeliver(self) -> None:
        if self.last_delivery is not None:
            response = post_webhook(self.client, "razorpay", *self.last_delivery)
            assert response.status_code == 200, response.content

    def do(self, operation: str, param: int) -> None:
        getattr(self, operation)(param)

    # --- the operations ---------------------------------------------------------------
    def pay(self, param):
        self.gateway.captured = True
        payload = razorpay_payment_event(
            "payment.captured",
            order_id=self.payment.order_id,
            amount=self.payment.amount_minor,
            payment_id=self.gateway.pay_id,
        )
        self.deliver(payload)

    def pay_webhook_lost(self, param):
        self.gateway.captured = True

    def redeliver_last_webhook(self, param):
        self.redeliver()

    def order_paid_webhook(self, param):
        if self.gateway.captured:
            payload = razorpay_payment_event(
                "order.paid",
                order_id=self.payment.order_id,
                amount=self.payment.amount_minor,
                payment_id=self.gateway.pay_id,
            )
            self.deliver(payload)

    def expire_hold(self, param):
        Booking.objects.filter(pk=self.booking.pk).update(
            hold_expires_at=timezone.now() - timedelta(minutes=1)
        )
        expire_due_holds()

    def seat_taken(self, param):
        slot = Slot.objects.get(pk=self.booking.slot_id)
        if slot.booked < slot.capacity:
            BookingFactory(slot=slot, status=BookingStatus.CONFIRMED)

    def customer_cancels(self, param):
        self._cancel("customer", self.booking.customer)

    def provider_cancels(self, param):
        self._cancel("provider", self.booking.partner.user)

    def _cancel(self, by, actor):
        with contextlib.suppress(DomainError):  # refused: another state, already cancelled
            cancel_booking(booking_id=self.booking.pk, actor=actor, by=by, reason="property")

    def manual_refund(self, param):
        amount = max(1, self.payment.amount_minor * param // 100)
        with contextlib.suppress(DomainError):  # refused: nothing captured, above the ceiling
            services.refund_booking_manually(
                booking_id=self.booking.pk, amount_minor=amount, reason="property", actor=None
            )

    def gateway_settles_refunds(self, param):
        self.gateway.refund_status = "pending" if param % 2 else "processed"
        for refund in self.gateway.refunds.values():
            if refund["status"] == "pending":
                refund["status"] = "processed"
                if param % 3:  # else the webhook is lost: reconciliation must find it
                    self._refund_webhook(refund, "refund.processed")

    def gateway_fails_a_refund(self, param):
        pending = [r for r in self.gateway.refunds.values() if r["status"] == "pending"]
        if pending:
            pending[0]["status"] = "failed"
            self._refund_webhook(pending[0], "refund.failed")

    def _refund_webhook(self, refund, event):
        payload = {
            "entity": "event",
            "event": event,
            "contains": ["refund"],
            "payload": {"refund": {"entity": refund}},
        }
        self.deliver(payload)

    def retry_failed_refunds(self, param):
        for refund_id in Refund.objects.filter(status=Refund.Status.FAILED).values_list(
            "pk", flat=True
        ):
            with contextlib.suppress(DomainError):  # refused: the room was used since
                services.retry_refund(refund_id=refund_id)

    def dispute_opened(self, param):
        amount = self.gateway.disputable()
        if amount > 0:
            self.gateway.dispute = {"id": "disp_" + secrets.token_hex(5), "amount": amount}
            self._dispute_webhook("payment.dispute.created", "open")

    def dispute_lost(self, param):
        self._close_dispute("lost")

    def dispute_won(self, param):
        self._close_dispute("won")

    def _close_dispute(self, outcome):
        dispute = self.gateway.dispute
        if dispute is not None and dispute.get("status") not in ("won", "lost"):
            self._dispute_webhook(f"payment.dispute.{outcome}", outcome)

    def _dispute_webhook(self, event, status):
        self.gateway.dispute["status"] = status
        entity = {
            **self.gateway.dispute,
            "entity": "dispute",
            "payment_id": self.gateway.pay_id,
            "currency": "INR",
            "amount_deducted": self.gateway.dispute["amount"] if status == "lost" else 0,
            "respond_by": int((timezone.now() + timedelta(days=3)).timestamp()),
        }
        payload = {
            "entity": "event",
            "event": event,
            "contains": ["payment", "dispute"],
            "payload": {
                "payment": {"entity": {"id": self.gateway.pay_id}},
                "dispute": {"entity": entity},
            },
        }
        self.deliver(payload)

    def reconcile(self, param):
        reconcile_payments(booking_id=self.booking.pk)

    # --- the property -----------------------------------------------------------------
    def assert_invariant(self, history):
        report = check_money()
        assert report.ok, (history, [str(v) for v in report.violations])
        payment = Payment.objects.get(pk=self.payment.pk)
        ours = services.refunded_total(payment_id=payment.pk)
        assert ours <= payment.captured_amount_minor, history
        at_gateway = self.gateway.refunded("processed", "pending")
        assert at_gateway <= (self.payment.amount_minor if self.gateway.captured else 0), history


steps = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(min_value=1, max_value=100)),
    min_size=1,
    max_size=14,
)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
# The paths the random ones must include, whatever the draw.
@example(steps=[("pay", 1), ("customer_cancels", 1), ("gateway_settles_refunds", 2)])
@example(steps=[("pay_webhook_lost", 1), ("expire_hold", 1), ("seat_taken", 1), ("reconcile", 1)])
@example(steps=[("pay", 1), ("pay", 1), ("redeliver_last_webhook", 1), ("reconcile", 1)])
@example(
    steps=[
        ("pay", 3),
        ("manual_refund", 40),
        ("gateway_settles_refunds", 1),  # refunds now stay pending at the gateway
        ("manual_refund", 30),
        ("dispute_opened", 1),
        ("dispute_lost", 1),
        ("manual_refund", 50),
        ("gateway_fails_a_refund", 1),
        ("retry_failed_refunds", 1),
        ("gateway_settles_refunds", 3),
        ("reconcile", 1),
    ]
)
def test_money_invariant_holds_after_every_step(steps, client, fake_gateways):
    with transaction.atomic(), responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        run = Run(client, mock)
        history = []
        for operation, param in steps:
            history.append((operation, param))
            with TestCase.captureOnCommitCallbacks(execute=True):
                run.do(operation, param)
            run.assert_invariant(history)
        transaction.set_rollback(True)
