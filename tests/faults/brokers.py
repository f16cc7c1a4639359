"""The Celery app pointed at another broker for one test, and back.

The app reads Django's ``CELERY_*`` settings once, so ``override_settings`` does not reach
it: :func:`celery_broker` changes the app's own configuration and drops its broker
connection pools (made lazily for the URL in force), then restores both.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from kombu import pools

from config.celery import app

# Nothing listens on port 1 (the Redis-down test points the cache there too).
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def _drop_pools() -> None:
    # kombu keeps its pools per broker URL in global groups: close and forget them all,
    # and the app's references to them.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def celery_broker(url: str, *, default_queue: str | None = None) -> Iterator[None]:
    """Tasks really go to the broker at ``url`` (not eager) inside the block."""
    conf = app.conf
    saved = {
        key: conf[key]
        for key in ("broker_url", "task_always_eager", "task_default_queue")
        if key in conf
    }
    _drop_pools()
    conf.broker_url = url
    conf.task_always_eager = False
    if default_queue:
        conf.task_default_queue = default_queue
    try:
        yield
    finally:
        _drop_pools()
        for key, value in saved.items():
            conf[key] = value


def reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False
