"""Refund execution through the gateways, faked at the HTTP layer with ``responses``."""

import json

import pytest
import responses

from bookings.models import BookingEvent
from payments.models import Payment
from refunds import services
from refunds.errors import RefundNotRetryable
from refunds.models import Refund
from refunds.tasks import REFUND_MAX_ATTEMPTS, execute_refund, retry_delay
from tests.factories.refunds import create_refund_of
from tests.refunds.conftest import RAZORPAY_BASE, STRIPE_BASE

STRIPE_REFUNDS = f"{STRIPE_BASE}/v1/refunds"
UNAVAILABLE = {"error": {"type": "api_error", "message": "Service unavailable"}}


def _stripe_refund(status="succeeded", refund_id="re_fake_1", amount=49900):
    return {"id": refund_id, "object": "refund", "amount": amount, "status": status}


def _create(payment, amount=None, source=Refund.Source.MANUAL):
    return create_refund_of(payment, amount, source=source)


@pytest.mark.django_db
@responses.activate
def test_two_503s_then_success_sends_three_requests_with_one_idempotency_key(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway="stripe")
    responses.post(STRIPE_REFUNDS, status=503, json=UNAVAILABLE)
    responses.post(STRIPE_REFUNDS, status=503, json=UNAVAILABLE)
    responses.post(STRIPE_REFUNDS, status=200, json=_stripe_refund())

    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id == "re_fake_1"
    assert refund.attempts == 3
    assert refund.last_error == ""
    assert len(responses.calls) == 3
    keys = {call.request.headers["Idempotency-Key"] for call in responses.calls}
    assert keys == {refund.idempotency_key}
    assert refund.idempotency_key.startswith(f"slotwise-refund-{refund.pk}-")
    assert "amount=49900" in responses.calls[0].request.body
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert BookingEvent.objects.filter(booking=payment.booking, kind="refund_succeeded").exists()


@pytest.mark.django_db
@responses.activate
def test_a_400_fails_the_refund_at_once_without_retries(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway="stripe")
    responses.post(
        STRIPE_REFUNDS,
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "Charge already refunded"}},
    )
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.attempts == 1
    assert "Charge already refunded" in refund.last_error
    assert len(responses.calls) == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED  # unchanged
    assert payment.flagged
    assert payment.flag_reason.startswith(f"Refund #{refund.pk} failed")
    assert BookingEvent.objects.filter(booking=payment.booking, kind="refund_failed").exists()


def _gateway_answers(gateway, payment, *answers):
    """Register the gateway's refund endpoint answers, in order: ``(status, error code)``
    for an error, ``200`` for the refund."""
    if gateway == "stripe":
        url, refund = STRIPE_REFUNDS, _stripe_refund()
    else:
        url = f"{RAZORPAY_BASE}/v1/payments/{payment.payment_id}/refund"
        refund = {"id": "rfnd_fake_1", "entity": "refund", "amount": 49900, "status": "processed"}
    for answer in answers:
        if answer == 200:
            responses.post(url, status=200, json=refund)
        else:
            status, code = answer
            error = {"type": "invalid_request_error", "code": code, "message": code}
            if gateway == "razorpay":
                error = {"code": "BAD_REQUEST_ERROR", "description": code}
            responses.post(url, status=status, json={"error": error})
    return refund["id"]


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize("gateway", ["stripe", "razorpay"])
@pytest.mark.parametrize(
    "error", [(429, "rate_limit"), (409, "idempotency_key_in_use")], ids=["429", "409"]
)
def test_a_429_or_409_is_retried_with_the_same_key_and_then_succeeds(
    gateway, error, fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    """Deliberate exceptions to "4xx is final" (payments/gateways): rate limited, or a
    request with the same idempotency key still in progress at the gateway."""
    payment = captured_payment(gateway=gateway)
    gateway_refund_id = _gateway_answers(gateway, payment, error, 200)
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)

    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id, refund.attempts) == (
        Refund.Status.SUCCEEDED,
        gateway_refund_id,
        2,
    )
    header = "Idempotency-Key" if gateway == "stripe" else "X-Refund-Idempotency"
    assert [c.request.headers[header] for c in responses.calls] == [refund.idempotency_key] * 2


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize("gateway", ["stripe", "razorpay"])
def test_a_404_fails_the_refund_at_once_without_retries(
    gateway, fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway=gateway)
    _gateway_answers(gateway, payment, (404, "resource_missing"), 200)
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)

    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (Refund.Status.FAILED, 1)
    assert "resource_missing" in refund.last_error
    assert len(responses.calls) == 1  # the 200 behind it was never asked for
    payment.refresh_from_db()
    assert payment.flagged


@pytest.mark.django_db
@responses.activate
def test_retryable_errors_stop_after_the_last_attempt_and_mark_failed(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway="stripe")
    responses.post(STRIPE_REFUNDS, status=503, json=UNAVAILABLE)  # repeats for every call
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)

    refund.refresh_from_db()
    assert len(responses.calls) == REFUND_MAX_ATTEMPTS
    assert refund.status == Refund.Status.FAILED
    assert refund.attempts == REFUND_MAX_ATTEMPTS
    assert "503" in refund.last_error or "unavailable" in refund.last_error.lower()


@pytest.mark.django_db
@responses.activate
def test_running_the_task_twice_refunds_once(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway="stripe")
    responses.post(STRIPE_REFUNDS, status=200, json=_stripe_refund())
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)
    execute_refund.delay(refund.pk)
    execute_refund.apply(args=[refund.pk])

    assert len(responses.calls) == 1
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (Refund.Status.SUCCEEDED, 1)


@pytest.mark.django_db
@responses.activate
def test_gateway_pending_keeps_processing_until_the_webhook_reconciles(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway="stripe")
    responses.post(STRIPE_REFUNDS, status=200, json=_stripe_refund(status="pending", amount=20000))
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment, amount=20000)
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PROCESSING, "re_fake_1")

    def reconcile(succeeded):
        return services.reconcile_gateway_refund(
            payment=payment,
            gateway_refund_id="re_fake_1",
            succeeded=succeeded,
            amount_minor=20000,
            detail="webhook",
        )

    assert reconcile(True).status == Refund.Status.SUCCEEDED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
    # A repeated success event changes nothing and does not notify twice.
    assert reconcile(True).status == Refund.Status.SUCCEEDED
    assert (
        BookingEvent.objects.filter(booking=payment.booking, kind="refund_succeeded").count() == 1
    )
    # A later run of the task sends nothing more.
    execute_refund.delay(refund.pk)
    assert len(responses.calls) == 1
    # The gateway failing a refund it had reported succeeded (Stripe can) wins: the
    # refund is FAILED for support to retry, the payment is captured in full again.
    failed = reconcile(False)
    assert (failed.status, failed.last_error) == (Refund.Status.FAILED, "webhook")
    payment.refresh_from_db()
    assert (payment.status, payment.flagged) == (Payment.Status.CAPTURED, True)
    assert reconcile(False).status == Refund.Status.FAILED
    assert BookingEvent.objects.filter(booking=payment.booking, kind="refund_failed").count() == 1
    # Our own task's errors never undo a success.
    other = _create(payment, amount=1000)
    services.mark_refund_succeeded(refund_id=other.pk, gateway_refund_id="re_other")
    assert not services.mark_refund_failed(refund_id=other.pk, error="timeout")
    other.refresh_from_db()
    assert other.status == Refund.Status.SUCCEEDED


@pytest.mark.django_db
def test_webhook_before_the_task_stored_the_id_matches_by_amount(captured_payment):
    payment = captured_payment(gateway="stripe")
    refund = _create(payment, amount=1000)  # on_commit never runs: still PENDING, no id
    other = _create(payment, amount=2000)
    found = services.reconcile_gateway_refund(
        payment=payment, gateway_refund_id="re_x", succeeded=False, amount_minor=2000, detail="no"
    )
    assert found.pk == other.pk
    assert (found.status, found.gateway_refund_id) == (Refund.Status.FAILED, "re_x")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    unknown = services.reconcile_gateway_refund(
        payment=payment, gateway_refund_id="re_y", succeeded=True, amount_minor=777, detail=""
    )
    assert unknown is None


@pytest.mark.django_db
@responses.activate
def test_razorpay_retry_carries_the_same_refund_idempotency_header(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway="razorpay")
    url = f"{RAZORPAY_BASE}/v1/payments/{payment.payment_id}/refund"
    responses.post(url, status=502, body="bad gateway")
    responses.post(
        url, status=200, json={"id": "rfnd_fake_1", "status": "processed", "amount": 49900}
    )
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id == "rfnd_fake_1"
    assert [c.request.headers["X-Refund-Idempotency"] for c in responses.calls] == [
        refund.idempotency_key
    ] * 2
    assert json.loads(responses.calls[1].request.body)["amount"] == 49900


@pytest.mark.django_db
def test_sandbox_refunds_succeed_offline(captured_payment, django_capture_on_commit_callbacks):
    payment = captured_payment(gateway="sandbox")
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment, amount=10000)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id.startswith("sbx_rfnd_")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
    # The customer is told once, through the outbox.
    from notifications.models import OutboxMessage

    messages = OutboxMessage.objects.filter(kind="refund.succeeded", booking=payment.booking)
    assert messages.exists()
    assert {m.recipient for m in messages} <= {payment.booking.customer.email, ""} | {
        getattr(payment.booking.customer, "phone", "")
    }


@pytest.mark.django_db
@responses.activate
def test_support_retry_of_a_failed_refund_reuses_the_idempotency_key(
    fake_gateways, captured_payment, support_user, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway="stripe")
    responses.post(STRIPE_REFUNDS, status=400, json={"error": {"message": "try later"}})
    responses.post(STRIPE_REFUNDS, status=200, json=_stripe_refund())
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        services.retry_refund(refund_id=refund.pk, actor=support_user)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert {c.request.headers["Idempotency-Key"] for c in responses.calls} == {
        refund.idempotency_key
    }
    with pytest.raises(RefundNotRetryable):
        services.retry_refund(refund_id=refund.pk, actor=support_user)


@pytest.mark.django_db
@responses.activate
def test_the_task_schedules_its_retries_with_growing_jittered_backoff(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    """Eager Celery runs a retry at once, ignoring its countdown, so the countdown the
    task asks for is read from spies that call the real ``retry_delay`` and
    ``Task.retry``."""
    from unittest import mock

    from refunds.services import execution

    computed = []

    def real_retry_delay(retries, **kwargs):
        delay = retry_delay(retries, **kwargs)
        computed.append((retries, delay))
        return delay

    payment = captured_payment(gateway="stripe")
    responses.post(STRIPE_REFUNDS, status=503, json=UNAVAILABLE)
    responses.post(STRIPE_REFUNDS, status=503, json=UNAVAILABLE)
    responses.post(STRIPE_REFUNDS, status=200, json=_stripe_refund())
    with (
        mock.patch.object(execution, "retry_delay", wraps=real_retry_delay),
        mock.patch.object(execute_refund, "retry", wraps=execute_refund.retry) as retry_spy,
        django_capture_on_commit_callbacks(execute=True),
    ):
        refund = _create(payment)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert [retries for retries, _ in computed] == [0, 1]
    delays = [c.kwargs["countdown"] for c in retry_spy.call_args_list]
    assert delays == [delay for _, delay in computed]
    base = execution.REFUND_RETRY_BASE_SECONDS
    assert base / 2 <= delays[0] <= base  # first retry: jitter in [c/2, c], c = base
    assert base <= delays[1] <= 2 * base  # second: c = 2 * base
    assert delays[0] <= delays[1]


@pytest.mark.parametrize("retries", [0, 1, 2, 3, 10])
def test_retry_delay_is_exponential_with_jitter_and_capped(retries):
    ceiling = min(30 * 2**retries, 3600)
    delays = {retry_delay(retries) for _ in range(20)}
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(delays) > 1  # jittered


@pytest.mark.django_db
def test_sweep_resumes_only_refunds_stalled_in_flight(captured_payment):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from refunds.tasks import REFUND_STALL_MINUTES, resume_stalled_refunds

    payment = captured_payment(gateway="sandbox")
    stalled = _create(payment, amount=100)  # enqueue lost: on_commit never ran here
    with time_machine.travel(timezone.now() + timedelta(minutes=REFUND_STALL_MINUTES + 1)):
        fresh = _create(payment, amount=200)
        assert resume_stalled_refunds.delay().get() == 1
    stalled.refresh_from_db()
    fresh.refresh_from_db()
    assert stalled.status == Refund.Status.SUCCEEDED
    assert fresh.status == Refund.Status.PENDING


@pytest.mark.django_db
def test_sweep_gives_up_on_a_refund_the_gateway_never_answered(captured_payment):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from refunds.tasks import REFUND_STALL_MINUTES, resume_stalled_refunds

    payment = captured_payment(gateway="sandbox")
    refund = _create(payment, amount=100)
    Refund.objects.filter(pk=refund.pk).update(
        status=Refund.Status.PROCESSING, attempts=2 * REFUND_MAX_ATTEMPTS
    )
    with time_machine.travel(timezone.now() + timedelta(minutes=REFUND_STALL_MINUTES + 1)):
        assert resume_stalled_refunds.delay().get() == 0
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert "Gave up" in refund.last_error


@pytest.mark.django_db(transaction=True)
def test_task_and_webhook_finishing_one_refund_at_once_do_not_deadlock(captured_payment):
    from tests.concurrency import run_concurrently

    payment = captured_payment(gateway="stripe")
    # A refund accepted by the gateway ("pending"), awaiting its outcome.
    refund = Refund.objects.create(
        booking=payment.booking,
        payment=payment,
        amount_minor=5000,
        currency="INR",
        source=Refund.Source.MANUAL,
        status=Refund.Status.PROCESSING,
        gateway_refund_id="re_race",
        attempts=1,
    )
    task_side = lambda: services.mark_refund_succeeded(  # noqa: E731
        refund_id=refund.pk, gateway_refund_id="re_race"
    )
    webhook_side = lambda: services.reconcile_gateway_refund(  # noqa: E731
        payment=payment, gateway_refund_id="re_race", succeeded=True, amount_minor=5000, detail=""
    )
    sides = (task_side, webhook_side)

    # Re-raises the first error of either side (e.g. a deadlock), so both finished cleanly.
    run_concurrently(2, lambda i: sides[i]())

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert (
        BookingEvent.objects.filter(booking=payment.booking, kind="refund_succeeded").count() == 1
    )


@pytest.mark.django_db
@responses.activate
def test_sweep_never_sends_again_a_refund_the_gateway_accepted_as_pending(
    fake_gateways, captured_payment, django_capture_on_commit_callbacks
):
    """Re-sending would only replay the gateway's stored first answer ("pending") and,
    once the gateway forgets the idempotency key (Stripe: 24 h), refund a second time."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from refunds.tasks import REFUND_STALL_MINUTES, resume_stalled_refunds

    payment = captured_payment(gateway="stripe")
    responses.post(STRIPE_REFUNDS, status=200, json=_stripe_refund(status="pending", amount=20000))
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment, amount=20000)
    # The refund webhook is lost; a day later the sweep runs, and so does a stray task.
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=REFUND_STALL_MINUTES)):
        assert resume_stalled_refunds.delay().get() == 0
        assert execute_refund.apply(args=[refund.pk]).get() == "skipped"

    assert len(responses.calls) == 1
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id, refund.attempts) == (
        Refund.Status.PROCESSING,
        "re_fake_1",
        1,
    )


@pytest.mark.django_db
@responses.activate
def test_retry_of_a_refund_the_gateway_reported_failed_is_a_new_refund_with_a_new_key(
    fake_gateways, captured_payment, support_user, django_capture_on_commit_callbacks
):
    """The same key would only replay the failed refund's first answer at the gateway."""
    payment = captured_payment(gateway="stripe")
    responses.post(
        STRIPE_REFUNDS,
        status=200,
        json=_stripe_refund(status="pending", refund_id="re_first", amount=20000),
    )
    responses.post(
        STRIPE_REFUNDS,
        status=200,
        json=_stripe_refund(status="succeeded", refund_id="re_second", amount=20000),
    )
    with django_capture_on_commit_callbacks(execute=True):
        refund = _create(payment, amount=20000)
    first_key = refund.idempotency_key
    services.reconcile_gateway_refund(
        payment=payment,
        gateway_refund_id="re_first",
        succeeded=False,
        amount_minor=20000,
        detail="refund.failed",
    )
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        services.retry_refund(refund_id=refund.pk, actor=support_user)

    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.SUCCEEDED, "re_second")
    keys = [c.request.headers["Idempotency-Key"] for c in responses.calls]
    assert keys == [first_key, refund.idempotency_key]
    assert keys[0] != keys[1]
    retried = BookingEvent.objects.get(booking=payment.booking, kind="refund_retried")
    assert retried.data["failed_gateway_refund_id"] == "re_first"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
