"""Test helpers shared by the apps' test suites (imported by tests only)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection

BARRIER_TIMEOUT_SECONDS = 30


def run_concurrently[T](count: int, fn: Callable[[int], T]) -> list[T]:
    """Run ``fn(0) .. fn(count - 1)`` in ``count`` threads released together; their results.

    Every thread waits on one ``threading.Barrier`` before calling ``fn``, so the calls
    really overlap, and closes its own database connection afterwards (each thread has
    its own connection; an open one would block the test database's teardown). Results
    come back in index order. If any call raised, the first such exception (by index)
    is re-raised after all threads finished. Use with
    ``@pytest.mark.django_db(transaction=True)`` so the threads see committed data.
    """
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT_SECONDS)
    results: list = [None] * count
    errors: list[BaseException | None] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = fn(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results
