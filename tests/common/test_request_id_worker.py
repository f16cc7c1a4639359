"""The request id travels in the Celery message's headers, so a real worker (another
process, another thread: no shared context) runs the task under the enqueuer's id."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from django.conf import settings

# A fresh interpreter (the Django app loaded as a worker loads it) runs a real Celery
# worker in a thread on an in-memory broker of its own, so the suite's Celery app, broker
# and eager mode are left alone. A thread starts with an empty context: the id the task
# sees can only come from the message.
WORKER_PROBE = """
import json, threading
import django
django.setup()
from celery import Celery
from celery.contrib.testing.worker import start_worker
from common.request_id import bound_request_id, current_request_id

app = Celery("request-id-probe", broker="memory://", fixups=[])
app.conf.update(task_always_eager=False)
seen, published = [], []
done = threading.Event()

@app.task(name="probe.record")
def record():
    seen.append(current_request_id())
    if len(seen) == 2:
        done.set()

with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=60):
    with bound_request_id("probe-request-0001"):
        published.append(record.apply_async().id)
    published.append(record.apply_async().id)
    assert done.wait(60), "the worker did not run both tasks"
print(json.dumps({"seen": seen, "after": current_request_id()}))
"""


def test_a_real_worker_runs_the_task_under_the_id_of_the_code_that_enqueued_it():
    probe = subprocess.run(
        [sys.executable, "-c", WORKER_PROBE],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout.strip().splitlines()[-1])

    first, second = result["seen"]
    assert first == "probe-request-0001"
    # Enqueued outside any request: the task gets an id of its own, not the last task's.
    assert re.fullmatch(r"[0-9a-f]{32}", second)
    assert result["after"] is None
    # The worker's log lines (JSON in production mode) name the id they ran under.
    started = [
        json.loads(line)
        for line in probe.stderr.splitlines()
        if line.startswith("{") and "task started: probe.record" in line
    ]
    assert [line["request_id"] for line in started] == [first, second]
