"""Raw psycopg loops beside the minimal booking transaction (bench.loadgen.RawWorker):

* :class:`ReplayWorker` replays the exact statement sequence one HTTP booking sent
  (captured in-process by :mod:`bench.inprocess`): same SQL, same parameters, same
  transaction boundaries, client-side binding like Django's backend. Per iteration it
  substitutes what must differ for the sequence to succeed again: a fresh
  Idempotency-Key and gateway order id, the ids the previous INSERTs returned, the
  target slot (its id, partner and times) and the client's customer. Values are
  substituted by value, so the captured ids must not look like anything else (the
  dataset's customer ids and the sequences are far apart; the caller picks a target
  whose slot and partner ids are not a small count), and the targets must share the
  captured variant (the seat UPDATE checks that the partner offers it). A statement
  that returned rows when captured must return rows again: if one comes back empty
  (a refusal the HTTP path would answer with a 409), the iteration rolls back and
  counts as an error, never as a half-written booking. No Python work besides: it is
  what the booking path costs the database, its ceiling.
* :class:`SeedDesignWorker` is the booking transaction of the system this project
  replaces: a Redis lock per slot, then ``SELECT ... FOR UPDATE`` of the slot, a check
  in the client, the UPDATE and the two INSERTs, commit, unlock.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import time
import uuid
from datetime import datetime
from typing import Any

import psycopg
import redis
from psycopg.types.json import Json, Jsonb

from bench.inprocess import Capture
from bench.loadgen import Target, insert_booking

# Move the id sequences of the tables a booking writes far apart (and above the dataset's
# customer ids, bench.dataset.CUSTOMER_ID_FLOOR), so an id a RETURNING clause gave back
# cannot be mistaken for another parameter (a user id, a quantity).
SEQUENCE_FLOORS = {
    "bookings_booking": 100_000_000,
    "bookings_bookingevent": 200_000_000,
    "payments_payment": 300_000_000,
    "common_idempotencykey": 400_000_000,
    "payments_webhookevent": 500_000_000,
}


def spread_sequences(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table, floor in SEQUENCE_FLOORS.items():
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                "greatest(%s, (SELECT coalesce(max(id), 0) FROM " + table + ") + 1))",
                (table, floor),
            )


RETURNS_ID = re.compile(r'RETURNING\s+"\w+"\."id"')


class ReplayPlan:
    """The captured sequence plus what to substitute on each iteration."""

    def __init__(
        self, captured: Capture, *, key: str, order_id: str, target: Target, customer_id: int
    ):
        self.events = captured.events
        self.key, self.order_id, self.target = key, order_id, target
        self.customer_id = customer_id
        # The captured slot, partner and customer ids are the per-iteration values;
        # returned ids map to what this iteration's INSERTs return. Only primary keys an
        # ORM INSERT returned ("...RETURNING "table"."id""): other RETURNING columns (a
        # count, a policy version) are values, not ids to remap.
        self.returned_ids = {
            row[0]
            for s in captured.statements
            if RETURNS_ID.search(s.sql)
            for row in s.returned
            if isinstance(row[0], int)
        }
        keys = [target.slot_id, target.partner_id, customer_id, *self.returned_ids]
        if len(set(keys)) != len(keys):
            raise ValueError(f"replay ids substituted by value must differ: {keys}")

    def values_for(self, target: Target, customer_id: int) -> dict:
        """The captured values to replace (ids, the slot's times) for one iteration."""
        captured = self.target
        return {
            captured.slot_id: target.slot_id,
            captured.partner_id: target.partner_id,
            self.customer_id: customer_id,
            captured.start: target.start,
            captured.end: target.end,
        }

    def _text(self, value: str, fresh: dict[str, str]) -> str:
        for old, new in fresh.items():
            if old in value:
                value = value.replace(old, new)
        return value

    def substitute(self, params, ids: dict, fresh: dict[str, str]) -> Any:
        def one(value):
            if isinstance(value, bool) or value is None:
                return value
            if isinstance(value, int):
                return ids.get(int(value), value)
            if isinstance(value, datetime):
                return ids.get(value, value)
            if isinstance(value, str):
                return self._text(value, fresh)
            if isinstance(value, (Jsonb, Json)):
                text = self._text(json.dumps(value.obj, default=str), fresh)
                return type(value)(json.loads(text))
            return value

        if params is None:
            return None
        if isinstance(params, dict):
            return {name: one(value) for name, value in params.items()}
        return [one(value) for value in params]


class ReplayRefused(Exception):
    """A replayed statement that returned rows when captured returned none."""


class ReplayWorker:
    def __init__(
        self,
        database_url: str,
        plan: ReplayPlan,
        targets: list[Target],
        customer_id: int,
        seed: int,
    ):
        self.conn = psycopg.connect(
            database_url, autocommit=True, cursor_factory=psycopg.ClientCursor
        )
        self.plan, self.targets, self.customer_id = plan, targets, customer_id
        self.rng = random.Random(seed)

    def __call__(self) -> str:
        plan = self.plan
        target = self.rng.choice(self.targets)
        if target.variant_id != plan.target.variant_id:
            raise ValueError("replay targets must share the captured variant")
        ids = plan.values_for(target, self.customer_id)
        fresh = {
            plan.key: str(uuid.uuid4()),
            plan.order_id: "sbx_order_" + secrets.token_hex(10),
        }
        in_transaction = False
        with self.conn.cursor() as cur:
            try:
                for kind, statement in plan.events:
                    if kind != "sql":
                        cur.execute("COMMIT" if kind == "commit" else "ROLLBACK")
                        in_transaction = False
                        continue
                    if statement.in_transaction and not in_transaction:
                        cur.execute("BEGIN")
                        in_transaction = True
                    cur.execute(statement.sql, plan.substitute(statement.params, ids, fresh))
                    if not statement.returned:
                        continue
                    rows = cur.fetchall()
                    if not rows:
                        raise ReplayRefused("no rows from: " + " ".join(statement.sql.split())[:80])
                    if RETURNS_ID.search(statement.sql):
                        for old, new in zip(statement.returned, rows, strict=False):
                            if isinstance(old[0], int) and old[0] in plan.returned_ids:
                                ids[old[0]] = new[0]
            except BaseException:
                if in_transaction:
                    cur.execute("ROLLBACK")
                raise
            if in_transaction:
                cur.execute("COMMIT")
        return "201"

    def close(self) -> None:
        self.conn.close()


SEED_LOCK_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
SELECT_FOR_UPDATE = (
    'SELECT booked, capacity, blocked, partner_id, start, "end" FROM partners_slot '
    "WHERE id = %s FOR UPDATE"
)
# The slot's seats and its standard seat type's (the inventory a booking keeps today), in
# one statement like ours, checked by the lock instead of in the WHERE clause.
SEED_TAKE = """
WITH slot AS (UPDATE partners_slot SET booked = booked + %(quantity)s WHERE id = %(slot_id)s)
UPDATE partners_slotseattype SET booked = booked + %(quantity)s
WHERE slot_id = %(slot_id)s AND code = 'standard'
"""


class SeedDesignWorker:
    """Redis lock per slot (SET NX PX, token-checked release), then SELECT ... FOR UPDATE."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        customer_id: int,
        targets: list[Target],
        seed: int,
        lock_ms: int = 5000,
    ):
        self.conn = psycopg.connect(database_url)
        self.redis = redis.Redis.from_url(redis_url)
        self.release = self.redis.register_script(SEED_LOCK_RELEASE)
        self.customer_id, self.targets = customer_id, targets
        self.rng = random.Random(seed)
        self.lock_ms = lock_ms

    def _acquire(self, key: str, token: str) -> bool:
        deadline = time.perf_counter() + self.lock_ms / 1000
        while not self.redis.set(key, token, nx=True, px=self.lock_ms):
            if time.perf_counter() > deadline:
                return False
            time.sleep(0.001)
        return True

    def __call__(self) -> str:
        target = self.rng.choice(self.targets)
        key, token = f"bench:seed:slot:{target.slot_id}", secrets.token_hex(8)
        if not self._acquire(key, token):
            return "409"
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                booked, capacity, blocked, partner_id, start, end = cur.execute(
                    SELECT_FOR_UPDATE, (target.slot_id,)
                ).fetchone()
                if blocked or booked + 1 > capacity:
                    return "409"
                cur.execute(SEED_TAKE, {"quantity": 1, "slot_id": target.slot_id})
                insert_booking(
                    cur,
                    target=target,
                    customer_id=self.customer_id,
                    partner_id=partner_id,
                    start=start,
                    end=end,
                )
            return "201"
        finally:
            self.release(keys=[key], args=[token])

    def close(self) -> None:
        self.conn.close()
        self.redis.close()
