"""Webhook ingest data: Razorpay-paid bookings waiting for their ``payment.captured``.

Bookings (PENDING_PAYMENT, seats held, counted among the customer's unpaid bookings, as
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
    SELECT * FROM unnest(%(slots)s::bigint[], %(variants)s::bigint[], %(prices)s::int[])
        AS w(slot_id, variant_id, price)
), taken AS (
    UPDATE partners_slot AS s SET booked = s.booked + 1
    FROM wanted AS w
    WHERE s.id = w.slot_id AND NOT s.blocked AND s.booked < s.capacity
    RETURNING s.id, s.partner_id, s.start, s."end", w.variant_id, w.price
), booked AS (
    INSERT INTO bookings_booking
        (quantity, amount_minor, currency, status, holds_seats, hold_expires_at, created_at,
         updated_at, customer_id, partner_id, slot_id, slot_start, slot_end, variant_id,
         reschedule_count, counts_as_pending)
    SELECT 1, price, 'INR', 'PENDING_PAYMENT', true, now() + interval '1 day', now(), now(),
           %(customer)s, partner_id, id, start, "end", variant_id, 0, true
    FROM taken
    RETURNING id, amount_minor, currency
), counted AS (
    -- Unpaid bookings are counted for the customer's cap, as book_slot counts them; the
    -- capture takes each off again.
    INSERT INTO bookings_pendingbookings (customer_id, count)
    SELECT %(customer)s, count(*) FROM booked
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
    database_url: str, *, targets: list[Target], customer_id: int
) -> list[tuple[int, str, int, str]]:
    """Razorpay bookings on ``targets`` (free slots); returns their payments."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            PREPARE_SQL,
            {
                "slots": [t.slot_id for t in targets],
                "variants": [t.variant_id for t in targets],
                "prices": [t.price_minor for t in targets],
                "customer": customer_id,
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
    """How many of the bookings are CONFIRMED, and how many ledger rows exist."""
    with psycopg.connect(database_url) as conn:
        confirmed = conn.execute(
            "SELECT count(*) FROM bookings_booking WHERE id = ANY(%s) AND status = 'CONFIRMED'",
            (booking_ids,),
        ).fetchone()[0]
        events = conn.execute(
            "SELECT count(*) FROM payments_webhookevent WHERE booking_id = ANY(%s)",
            (booking_ids,),
        ).fetchone()[0]
    return {"confirmed": confirmed, "ledger_rows": events}
