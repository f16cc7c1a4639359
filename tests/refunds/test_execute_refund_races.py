"""The refund task when answers get lost and runs overlap (the gateway still refunds
once), and where its gateway call runs (outside any transaction).

Gateways are faked at the HTTP boundary (``tests.refunds.fake_gateways``) with their
idempotency: one refund per idempotency key.
"""

import threading

import pytest
import responses

from bookings.models import BookingEvent
from payments.models import Payment
from refunds.models import Refund
from refunds.tasks import execute_refund
from tests.concurrency import run_concurrently
from tests.factories.refunds import create_refund_of
from tests.refunds.fake_gateways import FakeRefunds


def _pending_refund(payment) -> Refund:
    """A recorded refund whose task has not run (as if its enqueue was still on its way)."""
    return Refund.objects.create(
        booking=payment.booking,
        payment=payment,
        amount_minor=payment.captured_amount_minor,
        currency=payment.currency,
        source=Refund.Source.MANUAL,
        status=Refund.Status.PENDING,
    )


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize("gateway", ["stripe", "razorpay"])
def test_a_retry_after_the_gateway_made_the_refund_but_the_answer_was_lost_refunds_once(
    gateway, fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway=gateway)
    fake = FakeRefunds(gateway, payment).install()
    fake.lose_answers = 1  # the gateway refunds, the connection drops before its answer
    with django_capture_on_commit_callbacks(execute=True):
        refund = create_refund_of(payment, reason="lost answer")
    # The message is delivered once more (acks_late after a worker restart): a no-op.
    assert execute_refund.apply(args=[refund.pk]).get() == "skipped"

    assert len(fake.refunds) == 1  # one refund at the gateway
    made = fake.refund_for(refund)
    sent = fake.sent()
    assert len(sent) == 2  # the lost request and the retry
    assert {s["key"] for s in sent} == {s["reference"] for s in sent} == {refund.idempotency_key}
    assert Refund.objects.filter(payment=payment).count() == 1
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id, refund.attempts) == (
        Refund.Status.SUCCEEDED,
        made["id"],
        2,
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert (
        BookingEvent.objects.filter(booking=payment.booking, kind="refund_succeeded").count() == 1
    )


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_two_concurrent_runs_of_the_task_for_one_refund_refund_once(
    fake_gateways, captured_payment
):
    payment = captured_payment(gateway="stripe")
    refund = _pending_refund(payment)
    fake = FakeRefunds("stripe", payment).install()
    # Hold the first request at the gateway until the second run's request arrives, so
    # both runs really are in flight at once.
    arrived = []
    both_in_flight = threading.Event()

    def count_arrival(sent):
        arrived.append(sent)
        if len(arrived) == 2:
            both_in_flight.set()

    fake.on_request = count_arrival
    fake.while_in_flight = lambda made: both_in_flight.wait(timeout=10)

    # EagerResult.result: .get() refuses to run in a thread that just ran a task.
    outcomes = run_concurrently(2, lambda i: execute_refund.apply(args=[refund.pk]).result)

    assert both_in_flight.is_set()
    assert outcomes == ["succeeded", "succeeded"]
    assert len(fake.refunds) == 1
    assert [s["key"] for s in fake.sent()] == [refund.idempotency_key] * 2
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id, refund.attempts) == (
        Refund.Status.SUCCEEDED,
        fake.refund_for(refund)["id"],
        2,
    )
    assert Refund.objects.filter(payment=payment).count() == 1
    assert (
        BookingEvent.objects.filter(booking=payment.booking, kind="refund_succeeded").count() == 1
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_the_refund_request_of_a_cancellation_runs_outside_any_transaction(
    fake_gateways, captured_payment, customer_client
):
    """Real commits (transaction=True): the cancel's transaction has committed and no
    other is open when the gateway is called, so no row lock is held during HTTP."""
    payment = captured_payment(gateway="stripe")
    fake = FakeRefunds("stripe", payment).install()

    response = customer_client.post(
        f"/api/v1/bookings/{payment.booking_id}/cancel", {"reason": "plans changed"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert fake.atomic_block_seen == [False]
    refund = Refund.objects.get(payment=payment)
    assert (refund.status, refund.gateway_refund_id) == (
        Refund.Status.SUCCEEDED,
        fake.refund_for(refund)["id"],
    )
