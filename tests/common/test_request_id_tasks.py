"""Eager tasks (the suite's and the embedded mode's) run under their caller's id, or a
fresh one outside any request, and leave no id behind."""

from __future__ import annotations

import re

from common.request_id import bound_request_id, current_request_id
from config.celery import app

seen: list[str | None] = []


@app.task(name="tests.common.record_request_id", bind=True, max_retries=1)
def record_request_id(self, *, retry: bool = False) -> None:
    seen.append(current_request_id())
    if retry and self.request.retries == 0:
        raise self.retry(countdown=0)


def test_an_eager_task_keeps_the_id_of_the_code_that_enqueued_it():
    seen.clear()
    with bound_request_id("caller-request-0001"):
        record_request_id.delay()
        assert current_request_id() == "caller-request-0001"

    assert seen == ["caller-request-0001"]
    assert current_request_id() is None


def test_outside_any_request_a_task_gets_a_fresh_id_and_leaves_none_behind():
    seen.clear()
    record_request_id.delay()
    record_request_id.delay(retry=True)

    first, second, retried = seen
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second
    # The retry is another run of the same task: it keeps that task's id.
    assert retried == second
    assert current_request_id() is None
