"""What the Celery broker holds: is it reachable, and how many tasks wait per queue.

Read with kombu straight from ``CELERY_BROKER_URL`` (Redis or RabbitMQ), so the health
check, the support status and the metrics ask the broker the same way without importing
the Celery app (``config`` sits above every app).
"""

from __future__ import annotations

import logging

from django.conf import settings
from kombu import Connection
from kombu.exceptions import ChannelError, OperationalError

logger = logging.getLogger(__name__)

# The broker of the embedded mode: tasks run in-process (eager), nothing waits anywhere.
IN_PROCESS_SCHEMES = ("memory://",)


def queue_names() -> list[str]:
    """The queues our tasks go to: the default one plus any named in the task routes."""
    names = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")]
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        queue = route.get("queue") if isinstance(route, dict) else None
        if queue and queue not in names:
            names.append(queue)
    return names


def broker_in_process() -> bool:
    return settings.CELERY_BROKER_URL.startswith(IN_PROCESS_SCHEMES)


def queue_lengths(*, timeout: float = 2.0) -> dict[str, int] | None:
    """Tasks waiting per queue, ``{}`` for the in-process broker, None if unreachable.

    A queue nobody has declared yet holds nothing: it counts as 0, not as an error.
    """
    if broker_in_process():
        return {}
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            lengths = {}
            for name in queue_names():
                channel = conn.channel()
                try:
                    lengths[name] = channel.queue_declare(name, passive=True).message_count
                except ChannelError:
                    lengths[name] = 0
                finally:
                    channel.close()
            return lengths
    except (OperationalError, OSError, ConnectionError):
        logger.warning("broker: cannot reach %s", _redacted(settings.CELERY_BROKER_URL))
        return None


def broker_status(*, timeout: float = 2.0) -> str:
    """``ok``, ``error`` (unreachable) or ``in_process`` (embedded mode, no broker)."""
    if broker_in_process():
        return "in_process"
    return "error" if queue_lengths(timeout=timeout) is None else "ok"


def _redacted(url: str) -> str:
    """The broker URL without its password, for logs."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
