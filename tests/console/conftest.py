from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from notifications.models import OutboxMessage
from payments.models import WebhookEvent
from refunds.models import Refund
from tests.factories.console import SupportStaffFactory
from tests.factories.refunds import CapturedPaymentFactory


@pytest.fixture
def support_staff(db):
    return SupportStaffFactory()


@pytest.fixture
def staff_admin(support_staff) -> Client:
    """An admin session of support staff who are in the Support group, not superusers."""
    client = Client()
    client.force_login(support_staff)
    return client


@pytest.fixture
def outbox_message(db):
    def make(*, status: str, kind: str = "booking.confirmed") -> OutboxMessage:
        return OutboxMessage.objects.create(
            channel=OutboxMessage.Channel.EMAIL,
            kind=kind,
            recipient="someone@example.test",
            subject="s",
            body="b",
            status=status,
            available_at=timezone.now(),
        )

    return make


@pytest.fixture
def refund(db):
    """``refund(status=..., last_error=...)`` of a fresh captured payment."""

    def make(*, status: str, amount: int = 1000, **fields) -> Refund:
        payment = CapturedPaymentFactory()
        return Refund.objects.create(
            booking=payment.booking,
            payment=payment,
            amount_minor=amount,
            currency=payment.currency,
            source=Refund.Source.MANUAL,
            status=status,
            **fields,
        )

    return make


@pytest.fixture
def webhook_event(db):
    """``webhook_event(outcome=..., minutes_ago=0)``: a ledger row received back then."""
    counter = iter(range(1, 10_000))

    def make(*, outcome: str, minutes_ago: float = 0) -> WebhookEvent:
        with time_machine.travel(timezone.now() - timedelta(minutes=minutes_ago), tick=False):
            return WebhookEvent.objects.create(
                gateway="sandbox",
                event_id=f"evt_console_{next(counter)}",
                event_type="payment.captured",
                payload={},
                outcome=outcome,
            )

    return make
