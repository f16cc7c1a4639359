"""In-process measurements through Django's test client (the whole middleware and DRF stack,
no HTTP server): the SQL one booking sends, and the CPU time of a request.

``capture`` records every statement the app sends on the default connection (with its
parameters, whether it ran inside a transaction, and the values its RETURNING clause
gave back) and every COMMIT/ROLLBACK, so the exact sequence can be replayed in a raw
psycopg loop (:mod:`bench.replay`). Whatever the booking path does today is what is
measured: when the checkout path gets leaner, these numbers follow by themselves.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Statement:
    sql: str
    params: Any
    in_transaction: bool
    returned: list[tuple] = field(default_factory=list)

    @property
    def verb(self) -> str:
        return self.sql.lstrip().split(None, 1)[0].upper()

    @property
    def is_write(self) -> bool:
        return self.verb in WRITES


@dataclass
class Capture:
    # ("sql", Statement) | ("commit", None) | ("rollback", None), in order.
    events: list[tuple[str, Statement | None]] = field(default_factory=list)

    @property
    def statements(self) -> list[Statement]:
        return [s for kind, s in self.events if kind == "sql"]

    @property
    def commits(self) -> int:
        """Transactions committed: explicit COMMITs plus writes run in autocommit mode."""
        explicit = sum(1 for kind, _ in self.events if kind == "commit")
        return explicit + sum(1 for s in self.statements if s.is_write and not s.in_transaction)

    def summary(self) -> list[str]:
        lines = []
        for kind, statement in self.events:
            if kind != "sql":
                lines.append(kind.upper())
                continue
            text = " ".join(statement.sql.split())
            lines.append(("  " if statement.in_transaction else "") + text[:110])
        return lines


@contextmanager
def capture(connection) -> Iterator[Capture]:
    """Record the statements, commits and rollbacks of ``connection`` in this block."""
    captured = Capture()

    def wrapper(execute, sql, params, many, context):
        statement = Statement(sql, params, connection.in_atomic_block)
        captured.events.append(("sql", statement))
        result = execute(sql, params, many, context)
        cursor = context["cursor"].cursor
        if "RETURNING" in sql.upper() and cursor.description:
            # Peek at the returned ids for the replay, then rewind for Django.
            statement.returned = cursor.fetchall()
            if statement.returned:  # nothing to rewind past an empty result
                cursor.scroll(0, mode="absolute")
        return result

    original_commit, original_rollback = connection.commit, connection.rollback

    def commit():
        captured.events.append(("commit", None))
        return original_commit()

    def rollback():
        captured.events.append(("rollback", None))
        return original_rollback()

    connection.commit, connection.rollback = commit, rollback
    try:
        with connection.execute_wrapper(wrapper):
            yield captured
    finally:
        del connection.commit, connection.rollback


@contextmanager
def logs_to_devnull() -> Iterator[None]:
    """The root logger's stream handlers write to /dev/null meanwhile: each request still
    formats and writes its JSON line (part of its CPU, as in production, where a collector
    reads the stream), but hundreds of lines stay off the benchmark's console."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    with open(os.devnull, "w") as sink:
        previous = [h.setStream(sink) for h in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                handler.setStream(stream)


def booking_request(client, *, slot_id: int, variant_id: int, key: str | None = None):
    return client.post(
        "/api/v1/bookings",
        {"slot_id": slot_id, "variant_id": variant_id, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


def cpu_ms_per_request(send: Callable[[], Any], *, requests: int, warmup: int = 20) -> float:
    """Mean CPU time of this process per request (``time.process_time``), in ms."""
    for _ in range(warmup):
        send()
    started = time.process_time()
    for _ in range(requests):
        send()
    return (time.process_time() - started) * 1000 / requests
