"""Concurrent raw psycopg load: the minimal booking transaction, the threads that drive
every raw loop (bench.replay), slot sampling and the zero-oversold check.

Every raw loop runs the same number of client threads for the same wall-clock time
against the same database, on slot sets drawn the same way, so their throughputs (and
HTTP's, from wrk) can be compared as ratios within one run.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import psycopg


@dataclass
class Target:
    slot_id: int
    variant_id: int
    price_minor: int
    currency: str
    partner_id: int
    start: datetime
    end: datetime


@dataclass
class RunResult:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def booked(self) -> int:
        return self.statuses.get("201", 0)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else float("nan")


SAMPLE_SQL = """
SELECT s.id, v.id, v.price_minor, v.currency, s.partner_id, s.start, s."end"
FROM partners_slot AS s
JOIN partners_partner AS p ON p.id = s.partner_id AND p.active AND p.verified
JOIN LATERAL (
    SELECT v.id, o.price_minor, o.currency
    FROM partners_partneroffering AS o
    JOIN partners_servicevariant AS v ON v.id = o.variant_id AND v.tier = 'basic'
    WHERE o.partner_id = s.partner_id
      AND (%(variant)s::bigint IS NULL OR v.id = %(variant)s::bigint)
    ORDER BY v.service_id LIMIT 1
) AS v ON true
WHERE NOT s.blocked AND s.booked = 0 AND s.start > now() + interval '2 hours'
  AND s.id %% %(buckets)s = %(bucket)s
ORDER BY md5(s.id::text || %(salt)s)
LIMIT %(limit)s
"""


def sample_targets(
    database_url: str, *, count: int, bucket: int, salt: str, variant_id: int | None = None
) -> list[Target]:
    """Free future slots of bookable partners; ``bucket`` (0-5) keeps runs disjoint.
    Each comes with the basic variant of one of its partner's services (``variant_id``:
    only slots whose partner offers that variant)."""
    params = {
        "buckets": 6,
        "bucket": bucket,
        "salt": salt,
        "limit": count,
        "variant": variant_id,
    }
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(SAMPLE_SQL, params).fetchall()
    return [Target(*row) for row in rows]


def first_basic_variant(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT min(id) FROM partners_servicevariant WHERE tier = 'basic' AND active"
        ).fetchone()[0]


def make_hot(database_url: str, targets: list[Target], *, capacity: int) -> None:
    """Give the hot slots room for every request, so all clients fight over few rows.

    The booking takes seats of the slot and of its seat type in one statement, each
    within its own capacity: both get the room."""
    ids = [t.slot_id for t in targets]
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE partners_slot SET capacity = %s WHERE id = ANY(%s)", (capacity, ids))
        conn.execute(
            "UPDATE partners_slotseattype SET capacity = %s WHERE slot_id = ANY(%s)",
            (capacity, ids),
        )


def _run_threads(name: str, clients: int, seconds: float, make_worker) -> RunResult:
    result = RunResult(name=name, seconds=seconds)
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    deadline: list[float] = [0.0]

    def run(index: int) -> None:
        worker = make_worker(index)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        errors: list[str] = []
        try:
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                started = time.perf_counter()
                try:
                    outcome = worker()
                except Exception as exc:  # recorded in the report, never hidden
                    outcome = "error"
                    errors.append(repr(exc)[:300])
                latencies.append(time.perf_counter() - started)
                statuses[outcome] = statuses.get(outcome, 0) + 1
        finally:
            close = getattr(worker, "close", None)
            if close:
                close()
            with lock:
                result.latencies.extend(latencies)
                for key, value in statuses.items():
                    result.statuses[key] = result.statuses.get(key, 0) + value
                result.errors.extend(errors[:5])

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    # Requests in flight at the deadline still finish: measure the real elapsed time.
    result.seconds = time.perf_counter() - started
    return result


# The slot's seats and its standard seat type's, in one statement (as bookings.seats).
TAKE_SEATS = """
WITH taken AS (
    UPDATE partners_slot SET booked = booked + %(quantity)s
    WHERE id = %(slot_id)s AND NOT blocked AND booked + %(quantity)s <= capacity
    RETURNING id, partner_id, start, "end"
)
UPDATE partners_slotseattype AS t SET booked = t.booked + %(quantity)s
FROM taken
WHERE t.slot_id = taken.id AND t.code = 'standard' AND t.booked + %(quantity)s <= t.capacity
RETURNING taken.partner_id, taken.start, taken."end"
"""
INSERT_BOOKING = """
INSERT INTO bookings_booking
    (quantity, amount_minor, currency, status, holds_seats, hold_expires_at, created_at,
     updated_at, customer_id, partner_id, slot_id, slot_start, slot_end, variant_id,
     reschedule_count, counts_as_pending, seat_type)
VALUES (%s, %s, %s, 'PENDING_PAYMENT', true, now() + interval '15 minutes', now(), now(),
        %s, %s, %s, %s, %s, %s, 0, false, 'standard')
RETURNING id
"""
INSERT_EVENT = """
INSERT INTO bookings_bookingevent
    (from_status, to_status, kind, actor_label, reason, data, at, actor_id, booking_id)
VALUES ('', 'PENDING_PAYMENT', 'created', '', 'Booked by the customer.', '{}', now(), %s, %s)
"""


def insert_booking(cur, *, target: Target, customer_id: int, partner_id: int, start, end) -> int:
    """The booking row and its ``created`` event, as book_slot writes them (the seats
    already taken); returns the booking id. Every raw loop writes its bookings here, so
    they all carry the same columns."""
    booking_id = cur.execute(
        INSERT_BOOKING,
        (
            1,
            target.price_minor,
            target.currency,
            customer_id,
            partner_id,
            target.slot_id,
            start,
            end,
            target.variant_id,
        ),
    ).fetchone()[0]
    cur.execute(INSERT_EVENT, (customer_id, booking_id))
    return booking_id


class RawWorker:
    """The same booking transaction as book_slot, hand-written: UPDATE + 2 INSERTs."""

    def __init__(self, database_url: str, customer_id: int, targets: list[Target], seed: int):
        # Client-side binding, as Django's backend sends statements (and the replay).
        self.conn = psycopg.connect(database_url, cursor_factory=psycopg.ClientCursor)
        self.customer_id = customer_id
        self.targets = targets
        self.rng = random.Random(seed)

    def __call__(self) -> str:
        target = self.rng.choice(self.targets)
        with self.conn.transaction(), self.conn.cursor() as cur:
            row = cur.execute(TAKE_SEATS, {"quantity": 1, "slot_id": target.slot_id}).fetchone()
            if row is None:
                return "409"
            partner_id, start, end = row
            insert_booking(
                cur,
                target=target,
                customer_id=self.customer_id,
                partner_id=partner_id,
                start=start,
                end=end,
            )
        return "201"

    def close(self) -> None:
        self.conn.close()


def raw_run(
    name: str,
    *,
    database_url: str,
    customer_ids: list[int],
    targets: list[Target],
    clients: int,
    seconds: float,
) -> RunResult:
    return _run_threads(
        name,
        clients,
        seconds,
        lambda i: RawWorker(database_url, customer_ids[i % len(customer_ids)], targets, seed=i),
    )


INVARIANT_SQL = """
WITH held AS (
    SELECT slot_id, seat_type, sum(quantity) AS seats FROM bookings_booking
    WHERE holds_seats GROUP BY slot_id, seat_type
), slots AS (
    SELECT count(*) FILTER (WHERE s.booked <> coalesce(b.seats, 0)) AS mismatched,
           count(*) FILTER (WHERE s.booked > s.capacity) AS oversold,
           coalesce(sum(s.booked), 0) AS seats
    FROM partners_slot AS s
    LEFT JOIN (SELECT slot_id, sum(seats) AS seats FROM held GROUP BY slot_id) AS b
        ON b.slot_id = s.id
), seat_types AS (
    -- Each seat type's own count too: the booking takes both in one statement.
    SELECT count(*) FILTER (WHERE t.booked <> coalesce(b.seats, 0)) AS mismatched,
           count(*) FILTER (WHERE t.booked > t.capacity) AS oversold
    FROM partners_slotseattype AS t
    LEFT JOIN held AS b ON b.slot_id = t.slot_id AND b.seat_type = t.code
)
SELECT slots.mismatched + seat_types.mismatched, slots.oversold + seat_types.oversold,
       slots.seats
FROM slots, seat_types
"""


def check_invariant(database_url: str) -> dict:
    """No slot or seat type oversold, and booked == seats of the seat-holding bookings on
    every slot and every seat type (the counts add slots and seat types)."""
    with psycopg.connect(database_url) as conn:
        mismatched, oversold, seats = conn.execute(INVARIANT_SQL).fetchone()
    return {"mismatched": mismatched, "oversold": oversold, "seats": seats}
