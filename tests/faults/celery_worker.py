"""``python -m tests.faults.celery_worker QUEUE``: a real Celery worker of the project's app
(``config.celery``, settings from the environment) that consumes and publishes only on
QUEUE, so a test on a shared broker never takes or leaves messages in anyone else's
queue. The production pool (prefork) with one child: the main process holds the broker
connection and acknowledges, the child runs the task; ``kill -9`` of the process group is
the whole worker dying (a node or container lost)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main(queue: str) -> None:
    from config.celery import app

    app.conf.task_default_queue = queue  # what its tasks enqueue goes there too
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--queues={queue}",
            f"--hostname={queue}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel=INFO",
        ]
    )


if __name__ == "__main__":
    main(sys.argv[1])
