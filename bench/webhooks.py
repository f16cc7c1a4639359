"""Webhook ingest data: Razorpay-paid bookings waiting for their ``payment.captured``.

Bookings (PENDING_PAYMENT, seats held, counted among their customer's unpaid bookings, as
``book_slot`` leaves them) with a Razorpay payment row each are written in one SQL
statement; every one gets a signed ``payment.captured`` delivery, and one delivery in
five is a repeat of an earlier one (same body, same ``X-Razorpay-Event-Id``), as
gateways redeliver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets

import psycopg

from bench.loadgen import Target

WEBHOOK_SECRET = "bench-razorpay-webhook-secret"

PREPARE_SQL = """
WITH wanted AS (
    SELECT w.*, (%(customers)s::bigint[])[1 + w.n %% cardinality(%(customers)s::bigint[])]
        AS customer_id
    FROM unnest(%(slots)s::bigint[], %(variants)s::bigint[], %(prices)s::int[])
        WITH ORDINALITY AS w(slot_id, variant_id, price, n)
), slot_taken AS (
    UPDATE partners_slot AS s SET booked = s.booked + 1
    FROM wanted AS w
    WHERE s.id = w.slot_id AND NOT s.blocked AND s.booked < s.capacity
    RETURNING s.id, s.partner_id, s.start, s."end", w.variant_id, w.price, w.customer_id
), taken AS (
    -- The seat of the slot's standard seat type too, as bookings.seats takes it (the
    -- slots are free, so both have room).
    UPDATE partners_slotseattype AS t SET booked = t.booked + 1
    FROM slot_taken AS s
    WHERE t.slot_id = s.id AND t.code = 'standard' AND t.booked < t.capacity
    RETURNING s.*
), booked AS (
    INSERT INTO bookings_booking
        (quantity, amount_minor, currency, status, holds_seats, hold_expires_at, created_at,
         updated_at, customer_id, partner_id, slot_id, slot_start, slot_end, variant_id,
         reschedule_count, counts_as_pending, seat_type)
    SELECT 1, price, 'INR', 'PENDING_PAYMENT', true, now() + interval '1 day', now(), now(),
           customer_id, partner_id, id, start, "end", variant_id, 0, true, 'standard'
    FROM taken
    RETURNING id, amount_minor, currency, customer_id
), counted AS (
    -- Unpaid bookings are counted for the customer's cap, as book_slot counts them; the
    -- capture takes each off again.
    INSERT INTO bookings_pendingbookings (customer_id, count)
    SELECT customer_id, count(*) FROM booked GROUP BY customer_id
    ON CONFLICT (customer_id)
        DO UPDATE SET count = bookings_pendingbookings.count + excluded.count
)
INSERT INTO payments_payment
    (booking_id, gateway, order_id, payment_id, amount_minor, currency,
     captured_amount_minor, status, checkout_url, flagged, flag_reason, raw, created_at,
     updated_at)
SELECT id, 'razorpay', 'order_bench_' || id, '', amount_minor, currency, 0, 'created', '',
       false, '', '{}', now(), now()
FROM booked
RETURNING booking_id, order_id, amount_minor, currency
"""


def prepare(
    database_url: str, *, targets: list[Target], customer_ids: list[int]
) -> list[tuple[int, str, int, str]]:
    """Razorpay bookings on ``targets`` (free slots), spread over ``customer_ids`` in turn
    (each customer's unpaid-bookings counter is a row every capture of theirs updates:
    one customer for all would serialise the worker on it); returns their payments."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            PREPARE_SQL,
            {
                "slots": [t.slot_id for t in targets],
                "variants": [t.variant_id for t in targets],
                "prices": [t.price_minor for t in targets],
                "customers": customer_ids,
            },
        ).fetchall()


def captured_delivery(booking_id: int, order_id: str, amount: int, currency: str):
    payload = {
        "entity": "event",
        "event": "payment.captured",
        "contains": ["payment"],
        "payload": {
            "payment": {
                "entity": {
                    "id": "pay_" + secrets.token_hex(7),
                    "entity": "payment",
                    "amount": amount,
                    "currency": currency,
                    "status": "captured",
                    "order_id": order_id,
                    "notes": {"booking_id": str(booking_id)},
                }
            }
        },
    }
    body = json.dumps(payload, separators=(",", ":"))
    signature = hmac.new(WEBHOOK_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return body, signature, "evt_" + secrets.token_hex(8)


def deliveries(payments, *, seed: int = 11) -> list[tuple[str, str, str]]:
    """One signed delivery per payment, and after every fourth a repeat of an earlier one."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str]] = []
    for index, payment in enumerate(payments, start=1):
        out.append(captured_delivery(*payment))
        if index % 4 == 0:
            out.append(out[rng.randrange(len(out))])
    return out


def outcome(database_url: str, booking_ids: list[int]) -> dict:
    """How many of the bookings are CONFIRMED, how many ledger rows exist (and are still
    pending), and the rate at which the worker applied them (rows over the span of their
    ``processed_at``)."""
    with psycopg.connect(database_url) as conn:
        confirmed = conn.execute(
            "SELECT count(*) FROM bookings_booking WHERE id = ANY(%s) AND status = 'CONFIRMED'",
            (booking_ids,),
        ).fetchone()[0]
        events, pending, applied, span = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE outcome = 'pending'), "
            "count(processed_at), extract(epoch FROM max(processed_at) - min(processed_at)) "
            "FROM payments_webhookevent e JOIN payments_payment p "
            "ON e.payload #>> '{payload,payment,entity,order_id}' = p.order_id "
            "WHERE p.booking_id = ANY(%s)",
            (booking_ids,),
        ).fetchone()
    return {
        "confirmed": confirmed,
        "ledger_rows": events,
        "pending": pending,
        "applied_per_s": round(applied / float(span), 1) if span else None,
    }


def pending_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM payments_webhookevent WHERE outcome = 'pending'"
        ).fetchone()[0]


def analyze(database_url: str) -> None:
    """Refresh the planner's statistics of the tables the booking and webhook runs write."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "ANALYZE bookings_booking, bookings_bookingevent, bookings_pendingbookings, "
            "payments_payment, payments_webhookevent"
        )
