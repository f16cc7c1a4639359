"""A worker killed while it applies a recorded gateway webhook: the event is applied once.

The delivery is answered 200 as soon as it is recorded, so the gateway never sends it
again: from then on, applying it is ours. Everything is real: the webhook request
publishes ``apply_webhook_event`` to RabbitMQ (a queue of this test's own), a Celery
worker in another process (``python -m tests.faults.celery_worker``, prefork with one
child) takes it and blocks on the payment row, which the test holds locked in another
transaction; the test SIGKILLs the worker there (seen in ``pg_stat_activity``).

- The whole worker killed: the message was never acknowledged (``acks_late``), RabbitMQ
  requeues it, a second worker applies the event.
- Only its pool process killed: Celery acknowledges the message as failed; the row stays
  pending and the beat's sweep applies it once it is a minute old.

Waits are bounded waits for conditions, never sleeps of an assumed length.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingStatus
from payments.models import Payment, WebhookEvent
from payments.tasks import WEBHOOK_SWEEP_AFTER_SECONDS, apply_pending_webhooks_task
from tests.factories.bookings import BookingFactory
from tests.factories.partners import SlotFactory
from tests.factories.payments import PaymentFactory
from tests.faults.brokers import RABBITMQ_URL, celery_broker, reachable
from tests.faults.test_worker_killed_mid_refund import (
    WAIT_SECONDS,
    _tail,
    database_url_of_this_run,
    delete_queue,
    kill_worker,
    pool_child_of,
    ready_messages,
    wait_until,
)
from tests.payments.conftest import (
    RAZORPAY_WEBHOOK_SECRET,
    post_webhook,
    razorpay_delivery,
    razorpay_payment_event,
)


@pytest.fixture(autouse=True)
def rabbitmq(settings):
    if not reachable("127.0.0.1", 5672):
        pytest.fail("these tests need RabbitMQ on 127.0.0.1:5672 (guest/guest)")
    settings.RAZORPAY_WEBHOOK_SECRET = RAZORPAY_WEBHOOK_SECRET


def waiting_on_a_row_lock() -> int:
    """Backends of this database waiting for a row lock (the worker's apply)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


class WebhookInFlight:
    """A Razorpay hold whose signed capture was delivered and recorded, its apply task
    published to a RabbitMQ queue of this test's own, the payment row held locked by
    another transaction, and worker 1 blocked on it inside the apply."""

    def __init__(self, tmp_path) -> None:
        self.queue = f"slotwise-faults-{uuid.uuid4().hex[:12]}"
        self.log = tmp_path / "workers.log"
        self.workers: list[subprocess.Popen] = []
        booking = BookingFactory(slot=SlotFactory(capacity=1))
        self.payment = PaymentFactory(
            booking=booking, gateway="razorpay", order_id=f"order_{self.queue[-12:]}"
        )
        self.holding, self.release = threading.Event(), threading.Event()
        self.holder = threading.Thread(target=self._hold_the_payment_row)

    def _hold_the_payment_row(self) -> None:
        try:
            with transaction.atomic():
                Payment.objects.select_for_update().get(pk=self.payment.pk)
                self.holding.set()
                self.release.wait(WAIT_SECONDS)
        finally:
            connection.close()  # this thread's own connection

    def deliver_and_start_worker(self) -> WebhookEvent:
        payload = razorpay_payment_event(
            "payment.captured", order_id=self.payment.order_id, amount=self.payment.amount_minor
        )
        body, headers = razorpay_delivery(payload, event_id=f"evt_{self.queue}")
        with celery_broker(RABBITMQ_URL, default_queue=self.queue):
            answer = post_webhook(Client(), "razorpay", body, headers)
        assert answer.status_code == 200, answer.content
        assert answer.json() == {"received": True, "duplicate": False, "outcome": "pending"}
        assert ready_messages(self.queue) == 1
        self.holder.start()
        assert self.holding.wait(WAIT_SECONDS)
        self.start_worker()
        self.wait_until(lambda: waiting_on_a_row_lock() == 1, "worker 1 to block in the apply")
        return WebhookEvent.objects.get()

    def start_worker(self) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_of_this_run(),
            "CELERY_BROKER_URL": RABBITMQ_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # Blocked on the held row for as long as the test needs, not LOCK_TIMEOUT_MS.
            "LOCK_TIMEOUT_MS": str(WAIT_SECONDS * 1000),
        }
        with open(self.log, "ab") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.celery_worker", self.queue],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(worker)
        return worker

    def unlock(self) -> None:
        self.release.set()
        if self.holder.ident is not None:  # started
            self.holder.join(WAIT_SECONDS)

    def wait_until(self, condition, what: str, **kwargs) -> None:
        wait_until(condition, what, log=self.log, **kwargs)

    def close(self) -> None:
        self.unlock()
        for worker in self.workers:
            kill_worker(worker)
        delete_queue(self.queue)

    def assert_applied_once(self) -> None:
        event = WebhookEvent.objects.get()
        assert event.outcome == WebhookEvent.Outcome.PROCESSED
        booking = Booking.objects.get(pk=self.payment.booking_id)
        assert booking.status == BookingStatus.CONFIRMED
        assert Payment.objects.get(pk=self.payment.pk).status == Payment.Status.CAPTURED
        confirmed = BookingEvent.objects.filter(booking=booking, to_status="CONFIRMED")
        assert confirmed.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_apply_leaves_the_event_to_the_next_worker(tmp_path):
    run = WebhookInFlight(tmp_path)
    try:
        event = run.deliver_and_start_worker()
        kill_worker(run.workers[0])  # the whole worker: a node or container lost
        run.unlock()
        event.refresh_from_db()
        assert event.outcome == WebhookEvent.Outcome.PENDING  # its transaction died with it
        assert Booking.objects.get(pk=run.payment.booking_id).status == (
            BookingStatus.PENDING_PAYMENT
        )
        run.wait_until(
            lambda: ready_messages(run.queue) == 1,
            "RabbitMQ to requeue the unacknowledged apply task",
            seen=lambda: ready_messages(run.queue),
        )

        run.start_worker()
        run.wait_until(
            lambda: WebhookEvent.objects.get().outcome != WebhookEvent.Outcome.PENDING,
            "worker 2 to apply the event",
        )
        run.wait_until(lambda: ready_messages(run.queue) == 0, "worker 2 to drain its queue")
        kill_worker(run.workers[1], signal.SIGTERM)  # warm shutdown
        assert run.workers[1].returncode == 0, _tail(run.log)
    finally:
        run.close()
    run.assert_applied_once()


@pytest.mark.django_db(transaction=True)
def test_a_pool_child_killed_mid_apply_is_applied_by_the_sweep(tmp_path):
    run = WebhookInFlight(tmp_path)
    try:
        event = run.deliver_and_start_worker()
        os.kill(pool_child_of(run.workers[0]), signal.SIGKILL)
        run.unlock()
        run.wait_until(
            lambda: "WorkerLostError" in run.log.read_text(errors="replace"),
            "worker 1 to notice its pool process died",
        )
        assert run.workers[0].poll() is None, "the main process should live on"
        kill_worker(run.workers[0], signal.SIGTERM)
        assert ready_messages(run.queue) == 0  # acknowledged as failed: not redelivered
        event.refresh_from_db()
        assert event.outcome == WebhookEvent.Outcome.PENDING

        # The beat sweep (eager here, as a worker would run it), once the row is old.
        assert apply_pending_webhooks_task() == []
        later = timezone.now() + timedelta(seconds=WEBHOOK_SWEEP_AFTER_SECONDS + 1)
        with time_machine.travel(later, tick=False):
            assert apply_pending_webhooks_task() == [event.pk]
            assert apply_pending_webhooks_task() == []
    finally:
        run.close()
    run.assert_applied_once()
