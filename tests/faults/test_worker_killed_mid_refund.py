"""A worker killed in the middle of a refund refunds exactly once (issue 13, faults).

Everything is real except the gateway: the cancel publishes ``execute_refund`` to
RabbitMQ (a queue of this test's own), a Celery worker in another process (``python -m
tests.faults.celery_worker``) takes it and calls a Razorpay refund endpoint on a local
socket (:mod:`tests.faults.gateway_server`), which makes the refund and holds its answer;
the test SIGKILLs the worker there. RabbitMQ requeues the unacknowledged message
(``acks_late``) as soon as the dead worker's connection closes; a second worker gets it,
claims the refund again and asks the gateway with the same idempotency key, and the
gateway answers with the refund it already made. Waits are bounded waits for events or
conditions, never sleeps of an assumed length.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from bookings.models import BookingStatus
from conftest import authed_client
from notifications.models import OutboxMessage
from payments.models import Gateway, Payment
from refunds.models import Refund
from tests.factories.bookings import BookingFactory
from tests.factories.partners import (
    PartnerFactory,
    ServiceVariantFactory,
    SlotFactory,
    StaffFactory,
)
from tests.factories.refunds import CapturedPaymentFactory
from tests.faults.brokers import RABBITMQ_URL, celery_broker, reachable
from tests.faults.gateway_server import FakeRazorpayRefunds

WAIT_SECONDS = 120  # bound of every wait (worker start-up on a busy 2-core machine included)

pytestmark = pytest.mark.skipif(
    not reachable("127.0.0.1", 5672), reason="needs RabbitMQ on 127.0.0.1:5672"
)


def wait_until(condition: Callable[[], object], what: str, *, log=None, seen=None) -> None:
    """Poll ``condition`` until it is true, at most WAIT_SECONDS; fail saying ``what`` (and
    what ``seen()`` returns then)."""
    deadline = time.monotonic() + WAIT_SECONDS
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            last = f" (last seen: {seen()!r})" if seen else ""
            pytest.fail(f"gave up after {WAIT_SECONDS}s waiting for {what}{last}{_tail(log)}")
        pause.wait(0.1)


def wait_for(event: threading.Event, what: str, *, log=None) -> None:
    if not event.wait(WAIT_SECONDS):
        pytest.fail(f"gave up after {WAIT_SECONDS}s waiting for {what}{_tail(log)}")


def _tail(log) -> str:
    if log is None or not os.path.exists(log):
        return ""
    with open(log, errors="replace") as file:
        return "\n--- worker log (tail) ---\n" + "".join(file.readlines()[-40:])


def database_url_of_this_run() -> str:
    """The URL of pytest-django's test database, for the worker's DATABASE_URL."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(queue: str, gateway: FakeRazorpayRefunds, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_this_run(),
        "CELERY_BROKER_URL": RABBITMQ_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "RAZORPAY_API_BASE": gateway.base_url,
        "RAZORPAY_KEY_ID": "rzp_test_fake",
        "RAZORPAY_KEY_SECRET": "rzp_secret_fake",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.faults.celery_worker", queue],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )


def kill_worker(worker: subprocess.Popen, sig=signal.SIGKILL) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
    worker.wait(timeout=WAIT_SECONDS)


def ready_messages(queue: str) -> int:
    with Connection(RABBITMQ_URL) as broker:
        _name, count, _consumers = broker.default_channel.queue_declare(queue=queue, passive=True)
        return count


def delete_queue(queue: str) -> None:
    with Connection(RABBITMQ_URL) as broker:
        broker.default_channel.queue_delete(queue=queue)


def a_paid_razorpay_booking():
    variant = ServiceVariantFactory(price_minor=49900, currency="INR")
    slot = SlotFactory(
        partner=PartnerFactory(services=[variant.service]),
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
    return booking, payment


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_refund_refunds_exactly_once(tmp_path):
    queue = f"slotwise-faults-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "workers.log"
    gateway = FakeRazorpayRefunds(hold_first_answer=True).start()
    workers: list[subprocess.Popen] = []
    booking, payment = a_paid_razorpay_booking()
    try:
        # The cancel commits and publishes execute_refund (and its notices) to our queue.
        with celery_broker(RABBITMQ_URL, default_queue=queue):
            cancelled = authed_client(booking.customer).post(
                f"/api/v1/bookings/{booking.pk}/cancel", {}, format="json"
            )
        assert cancelled.status_code == 200, cancelled.content
        refund = Refund.objects.get(booking=booking)
        assert refund.status == Refund.Status.PENDING

        # Worker 1 sends the refund; the gateway makes it and holds the answer: kill -9.
        workers.append(start_worker(queue, gateway, log))
        wait_for(gateway.first_request, "worker 1's refund request at the gateway", log=log)
        kill_worker(workers[0])
        gateway.release()

        refund.refresh_from_db()
        assert (refund.status, refund.attempts, refund.gateway_refund_id) == (
            Refund.Status.PROCESSING,
            1,
            "",
        ), "worker 1 should have died between its claim and the gateway's answer"
        assert len(gateway.refunds) == 1  # the money left: the gateway made the refund
        # acks_late: the refund's message was never acknowledged, so the broker requeues
        # it. (So may it requeue the cancel notice's message: the kill can cut off the ack
        # worker 1 had just sent for it; its redelivery must then send nothing again.)
        wait_until(
            lambda: ready_messages(queue) >= 1,
            "RabbitMQ to requeue the unacknowledged message",
            seen=lambda: ready_messages(queue),
        )

        # Worker 2 gets the same message again and finishes the refund.
        workers.append(start_worker(queue, gateway, log))
        wait_for(gateway.repeat_request, "worker 2's request with the same key", log=log)
        wait_until(
            lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED,
            "the refund to succeed",
            log=log,
        )
        notice = OutboxMessage.objects.filter(booking=booking, kind="refund")
        wait_until(
            lambda: notice.filter(status=OutboxMessage.Status.SENT).exists(),
            "worker 2 to deliver the refund notice",
            log=log,
        )
        kill_worker(workers[1], signal.SIGTERM)  # warm shutdown: acks what it finished
        assert workers[1].returncode == 0, _tail(log)
        assert ready_messages(queue) == 0, "a message was left unacknowledged"
    finally:
        for worker in workers:
            kill_worker(worker)
        gateway.stop()
        delete_queue(queue)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.attempts == 2  # claimed by each worker: one message, delivered twice
    # Exactly once at the gateway: one refund, made for our key; the redelivery's request
    # carried the same key and got that refund back.
    assert list(gateway.refunds) == [refund.idempotency_key]
    assert [len(bodies) for bodies in gateway.requests.values()] == [2]
    assert refund.gateway_refund_id == gateway.refunds[refund.idempotency_key]["id"]
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.REFUNDED
    assert Refund.objects.filter(booking=booking).count() == 1
    # At-least-once delivery of the notices too, each sent once.
    sent = OutboxMessage.objects.filter(booking=booking).values_list("kind", "status", "attempts")
    assert sorted(sent) == [("booking_cancelled", "sent", 1), ("refund", "sent", 1)]
