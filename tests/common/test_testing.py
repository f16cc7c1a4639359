"""The shared concurrency helper: calls overlap, results keep their order, errors surface."""

import threading

import pytest

from tests.concurrency import run_concurrently


def test_run_concurrently_releases_all_calls_together_and_keeps_result_order():
    inside = threading.Barrier(3, timeout=5)

    def call(index: int) -> int:
        inside.wait()  # would time out (BrokenBarrierError) if the calls ran one by one
        return index * 10

    assert run_concurrently(3, call) == [0, 10, 20]


def test_run_concurrently_reraises_a_thread_error_after_all_threads_finished():
    finished = []

    def call(index: int) -> int:
        if index == 1:
            raise ValueError("boom")
        finished.append(index)
        return index

    with pytest.raises(ValueError, match="boom"):
        run_concurrently(3, call)
    assert sorted(finished) == [0, 2]
