"""A worker killed in the middle of a refund refunds exactly once (issue 13, faults).

Everything is real except the gateway: the cancel publishes ``execute_refund`` to
RabbitMQ (a queue of this test's own), a Celery worker in another process (``python -m
tests.faults.celery_worker``, prefork with one child) takes it and calls a Razorpay
refund endpoint on a local socket (:mod:`tests.faults.gateway_server`), which makes the
refund and holds its answer; the test SIGKILLs the worker there.

- The whole worker killed: RabbitMQ requeues the unacknowledged message (``acks_late``)
  as soon as the dead worker's connection closes; a second worker gets it, claims the
  refund again and asks the gateway with the same idempotency key, and the gateway
  answers with the refund it already made.
- Only its pool process killed: Celery acknowledges the message as failed (no
  redelivery); the refund sweep sends it again once it is stale, with the same key.

Waits are bounded waits for events or conditions, never sleeps of an assumed length.
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
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from bookings.models import BookingStatus
from conftest import authed_client
from notifications.models import OutboxMessage
from notifications.tasks import dispatch_outbox
from payments.models import Gateway, Payment
from refunds.models import Refund
from refunds.tasks import resume_stalled_refunds
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


@pytest.fixture(autouse=True)
def rabbitmq():
    """RabbitMQ on 127.0.0.1:5672 (guest) is a backing service of the suite, like
    PostgreSQL and Redis: without it these tests fail rather than skip (``.ci/run`` starts
    it)."""
    if not reachable("127.0.0.1", 5672):
        pytest.fail("these tests need RabbitMQ on 127.0.0.1:5672 (guest/guest)")


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


def pool_child_of(worker: subprocess.Popen) -> int:
    """The pid of the prefork pool's one child (it runs the tasks)."""
    with open(f"/proc/{worker.pid}/task/{worker.pid}/children") as children:
        (child,) = children.read().split()
    return int(child)


class RefundInFlight:
    """A paid Razorpay booking cancelled through the API, its ``execute_refund`` published
    to a RabbitMQ queue of this test's own, and worker 1 started: at :meth:`held` it has
    claimed the refund and the gateway has made it, but holds the answer."""

    def __init__(self, tmp_path) -> None:
        self.queue = f"slotwise-faults-{uuid.uuid4().hex[:12]}"
        self.log = tmp_path / "workers.log"
        self.gateway = FakeRazorpayRefunds(hold_first_answer=True).start()
        self.workers: list[subprocess.Popen] = []
        self.booking, self.payment = a_paid_razorpay_booking()

    def cancel_and_start_worker(self) -> Refund:
        with celery_broker(RABBITMQ_URL, default_queue=self.queue):
            cancelled = authed_client(self.booking.customer).post(
                f"/api/v1/bookings/{self.booking.pk}/cancel", {}, format="json"
            )
        assert cancelled.status_code == 200, cancelled.content
        refund = Refund.objects.get(booking=self.booking)
        assert refund.status == Refund.Status.PENDING
        self.start_worker()
        wait_for(self.gateway.first_request, "worker 1's refund at the gateway", log=self.log)
        return refund

    def start_worker(self) -> subprocess.Popen:
        self.workers.append(start_worker(self.queue, self.gateway, self.log))
        return self.workers[-1]

    def wait_until(self, condition, what: str, **kwargs) -> None:
        wait_until(condition, what, log=self.log, **kwargs)

    def notices(self):
        return OutboxMessage.objects.filter(booking=self.booking)

    def close(self) -> None:
        for worker in self.workers:
            kill_worker(worker)
        self.gateway.stop()
        delete_queue(self.queue)

    def assert_refunded_once(self, refund: Refund, *, attempts: int) -> None:
        refund.refresh_from_db()
        assert refund.status == Refund.Status.SUCCEEDED
        assert refund.attempts == attempts  # each run claimed it once
        # Exactly once at the gateway: one refund, made for our key; the second request
        # carried the same key and got that refund back.
        keys = self.gateway.requests
        assert list(self.gateway.refunds) == [refund.idempotency_key]
        assert {key: len(bodies) for key, bodies in keys.items()} == {refund.idempotency_key: 2}
        assert refund.gateway_refund_id == self.gateway.refunds[refund.idempotency_key]["id"]
        assert Payment.objects.get(pk=self.payment.pk).status == Payment.Status.REFUNDED
        assert Refund.objects.filter(booking=self.booking).count() == 1
        # The notices were delivered at least once by the broker, and each sent once.
        sent = self.notices().values_list("kind", "status", "attempts")
        assert sorted(sent) == [("booking.cancelled", "sent", 1), ("refund.succeeded", "sent", 1)]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_refund_refunds_exactly_once(tmp_path):
    """The whole worker dies (kill -9 of its processes: a node or container lost)."""
    run = RefundInFlight(tmp_path)
    try:
        refund = run.cancel_and_start_worker()
        kill_worker(run.workers[0])
        run.gateway.release()

        refund.refresh_from_db()
        assert (refund.status, refund.attempts, refund.gateway_refund_id) == (
            Refund.Status.PROCESSING,
            1,
            "",
        ), "worker 1 should have died between its claim and the gateway's answer"
        assert len(run.gateway.refunds) == 1  # the money left: the gateway made the refund
        # acks_late: the refund's message was never acknowledged, so RabbitMQ requeues it
        # when the dead worker's connection closes (with the cancel notice's message if
        # worker 1 had not taken it yet: one prefetched message at a time).
        waiting = 1 + run.notices().filter(status=OutboxMessage.Status.PENDING).count()
        run.wait_until(
            lambda: ready_messages(run.queue) == waiting,
            f"RabbitMQ to requeue the unacknowledged message ({waiting} ready)",
            seen=lambda: ready_messages(run.queue),
        )

        # Worker 2 gets the same message again and finishes the refund.
        run.start_worker()
        wait_for(run.gateway.later_request, "worker 2's refund request", log=run.log)
        run.wait_until(
            lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED,
            "the refund to succeed",
        )
        run.wait_until(
            lambda: run.notices().filter(kind="refund.succeeded", status="sent").exists(),
            "worker 2 to deliver the refund notice",
        )
        kill_worker(run.workers[1], signal.SIGTERM)  # warm shutdown
        assert run.workers[1].returncode == 0, _tail(run.log)
        assert ready_messages(run.queue) == 0, "a message was left unacknowledged"
    finally:
        run.close()
    run.assert_refunded_once(refund, attempts=2)


@pytest.mark.django_db(transaction=True)
def test_a_pool_child_killed_mid_refund_is_resumed_by_the_sweep_and_refunds_once(
    tmp_path, settings
):
    """Only the pool process running the task dies (the OOM killer's choice): the main
    process lives on and, ``task_reject_on_worker_lost`` being off, acknowledges the
    message as failed (no redelivery, so a task that kills its process cannot loop). The
    refund stays claimed without an answer; ``resume_stalled_refunds`` sends it again
    once it has been idle for ``REFUND_STALL_MINUTES`` (run here eagerly, the gateway
    the same local server)."""
    run = RefundInFlight(tmp_path)
    try:
        refund = run.cancel_and_start_worker()
        os.kill(pool_child_of(run.workers[0]), signal.SIGKILL)
        run.gateway.release()
        run.wait_until(
            lambda: "WorkerLostError" in run.log.read_text(errors="replace"),
            "worker 1 to notice its pool process died",
        )
        assert run.workers[0].poll() is None, "the main process should live on"
        kill_worker(run.workers[0], signal.SIGTERM)
        assert ready_messages(run.queue) == 0  # acknowledged: not requeued at shutdown
        refund.refresh_from_db()
        assert (refund.status, refund.attempts, refund.gateway_refund_id) == (
            Refund.Status.PROCESSING,
            1,
            "",
        )

        # The beat sweep, later (eager here, as a worker would run it).
        settings.RAZORPAY_API_BASE = run.gateway.base_url
        settings.RAZORPAY_KEY_ID = "rzp_test_fake"
        settings.RAZORPAY_KEY_SECRET = "rzp_secret_fake"
        stall = timedelta(minutes=settings.REFUND_STALL_MINUTES, seconds=1)
        assert resume_stalled_refunds() == 0  # not idle long enough yet
        with time_machine.travel(timezone.now() + stall, tick=False):
            assert resume_stalled_refunds() == 1
            assert resume_stalled_refunds() == 0
            dispatch_outbox()
    finally:
        run.close()
    run.assert_refunded_once(refund, attempts=2)
