"""common.broker asks the real broker of the suite (Redis) what waits in each queue."""

import uuid

import pytest
from django.test import override_settings
from kombu import Connection

from common import broker


@pytest.fixture
def queue_name(settings):
    name = f"test-broker-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ROUTES = {"some.task": {"queue": name}}
    yield name
    with Connection(settings.CELERY_BROKER_URL) as conn:
        conn.SimpleQueue(name).queue.delete()


def test_counts_waiting_messages_per_queue(queue_name, settings):
    with Connection(settings.CELERY_BROKER_URL) as conn:
        simple = conn.SimpleQueue(queue_name)
        simple.put({"n": 1})
        simple.put({"n": 2})
        simple.close()

    lengths = broker.queue_lengths()

    assert lengths[queue_name] == 2
    assert "celery" in lengths
    assert broker.broker_status() == "ok"


def test_a_queue_nobody_declared_is_empty(queue_name):
    assert broker.queue_lengths()[queue_name] == 0


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_unreachable_broker_is_none_and_error():
    assert broker.queue_lengths(timeout=0.5) is None
    assert broker.broker_status(timeout=0.5) == "error"


@override_settings(CELERY_BROKER_URL="memory://")
def test_in_process_broker_has_no_queues():
    assert broker.queue_lengths() == {}
    assert broker.broker_status() == "in_process"


def test_password_is_redacted():
    assert broker._redacted("amqp://guest:secret@rabbit:5672//") == "amqp://rabbit:5672//"
