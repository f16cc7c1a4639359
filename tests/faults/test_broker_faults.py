"""The Celery broker down at commit time (issue 13, faults).

Real PostgreSQL; the app's tasks are not eager and its broker is a closed port, so every
``.delay`` after commit really fails. The request must still answer as committed, and the
beat sweeps deliver what was lost once the broker is back (eager here: tasks run in this
process as a worker would run them). The gateway is faked at the HTTP boundary
(``responses``); time is moved with time_machine for the sweeps' staleness windows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
import time_machine
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from bookings.models import Booking, BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.waitlist.services import join_waitlist
from conftest import authed_client
from notifications.models import OutboxMessage
from notifications.tasks import deliver_message, dispatch_outbox
from payments.models import Gateway, Payment
from payments.tasks import sweep_waitlists_task
from refunds.models import Refund
from refunds.tasks import resume_stalled_refunds
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import (
    PartnerFactory,
    ServiceVariantFactory,
    SlotFactory,
    StaffFactory,
)
from tests.factories.refunds import CapturedPaymentFactory
from tests.faults.brokers import CLOSED_PORT_BROKER, celery_broker
from tests.refunds.conftest import RAZORPAY_BASE
from tests.refunds.fake_gateways import FakeRefunds


@pytest.fixture
def razorpay_faked(settings):
    settings.RAZORPAY_API_BASE = RAZORPAY_BASE
    settings.RAZORPAY_KEY_ID = "rzp_test_fake"
    settings.RAZORPAY_KEY_SECRET = "rzp_secret_fake"
    return settings


def a_full_paid_slot():
    """A one-seat slot two days ahead, taken by a confirmed booking paid through Razorpay,
    and a customer waiting for the seat. Returns (booking, payment, waiter)."""
    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    slot = SlotFactory(
        partner=PartnerFactory(services=[variant.service]),
        capacity=1,
        start=(timezone.now() + timedelta(hours=48)).replace(second=0, microsecond=0),
    )
    booking = BookingFactory(
        slot=slot,
        variant=variant,
        status=BookingStatus.CONFIRMED,
        assigned_staff=StaffFactory(partner=slot.partner),
    )
    payment = CapturedPaymentFactory(
        booking=booking, gateway=Gateway.RAZORPAY, payment_id=f"pay_{booking.pk}x"
    )
    waiter = join_waitlist(customer=CustomerFactory(), slot_id=slot.pk, variant_id=variant.pk)
    return booking, payment, waiter


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_cancel_with_the_broker_down_answers_200_and_the_sweeps_deliver_it_later(
    razorpay_faked,
):
    booking, payment, waiter = a_full_paid_slot()
    gateway = FakeRefunds("razorpay", payment).install()
    client = authed_client(booking.customer)
    outbox_before = set(OutboxMessage.objects.values_list("pk", flat=True))

    with celery_broker(CLOSED_PORT_BROKER):
        with pytest.raises(OperationalError):  # the broker really is unreachable
            deliver_message.delay(0)
        cancelled = client.post(f"/api/v1/bookings/{booking.pk}/cancel", {}, format="json")

    # Committed, and said so: the lost enqueues (refund, outbox, waitlist) are no error.
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["refund"]["amount"] == 49900
    refund = Refund.objects.get(booking=booking)
    assert (refund.status, refund.attempts) == (Refund.Status.PENDING, 0)
    lost_messages = OutboxMessage.objects.exclude(pk__in=outbox_before)
    assert lost_messages.exists()
    assert set(lost_messages.values_list("status", flat=True)) == {OutboxMessage.Status.PENDING}
    assert WaitlistEntry.objects.get(pk=waiter.pk).status == WaitlistStatus.WAITING
    assert gateway.sent() == []  # nothing reached the gateway

    # The broker is back (eager: tasks run here as a worker would). The beat sweeps:
    assert dispatch_outbox() >= lost_messages.count()
    assert not lost_messages.exclude(status=OutboxMessage.Status.SENT).exists()
    assert sweep_waitlists_task() != []
    assert WaitlistEntry.objects.get(pk=waiter.pk).status == WaitlistStatus.OFFERED

    # The refund is not stalled yet: the sweep leaves it to its (lost) task for now.
    assert resume_stalled_refunds() == 0
    assert gateway.sent() == []
    stall = timedelta(minutes=settings.REFUND_STALL_MINUTES, seconds=1)
    with time_machine.travel(timezone.now() + stall, tick=False):
        assert resume_stalled_refunds() == 1
        assert resume_stalled_refunds() == 0  # succeeded: nothing left in flight
        dispatch_outbox()
    with time_machine.travel(timezone.now() + 2 * stall, tick=False):
        assert resume_stalled_refunds() == 0

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.attempts == 1
    assert refund.gateway_refund_id == gateway.refund_for(refund)["id"]
    assert [sent["key"] for sent in gateway.sent()] == [refund.idempotency_key]  # exactly once
    assert len(gateway.refunds) == 1
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.REFUNDED
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED
    # The refund's own notice went out too, nothing is left behind in the outbox.
    assert OutboxMessage.objects.filter(booking=booking, kind="refund.succeeded").exists()
    assert not OutboxMessage.objects.filter(
        status__in=(OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING)
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_stripe_booking_cancelled_with_the_broker_down_answers_200(settings):
    """The other after-commit enqueue of a cancel: closing the unpaid Stripe session."""
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    booking = BookingFactory(status=BookingStatus.PENDING_PAYMENT)
    Payment.objects.create(
        booking=booking,
        gateway=Gateway.STRIPE,
        order_id="cs_test_broker_down",
        amount_minor=booking.amount_minor,
        currency=booking.currency,
        status=Payment.Status.CREATED,
    )
    client = authed_client(booking.customer)

    with celery_broker(CLOSED_PORT_BROKER):
        cancelled = client.post(f"/api/v1/bookings/{booking.pk}/cancel", {}, format="json")

    assert cancelled.status_code == 200, cancelled.content
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED
