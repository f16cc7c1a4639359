"""Create and fill the benchmark database with generate_series (no Python row loops).

Shape at ``--scale 1``: 20 cities in 5 time zones, 10 services x 3 variants,
10,000 partners (95 % verified, 97 % active, rating 3.00-5.00, 3 services each) and
100 hourly slots per partner over 10 days (1,000,000 slots; the first day is in the
past): 80 % capacity 1, 20 % capacity 5, 2 % blocked, about 30 % already full. Every
full slot has a CONFIRMED booking holding its seats, so ``booked`` equals the seats of
seat-holding bookings on every slot, before and after the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
CITIES = 20
SERVICES = 10
SLOTS_PER_PARTNER = 100
CUSTOMERS = 64
CUSTOMER_ID_FLOOR = 60_000_000

LOAD_SQL = """
SELECT setseed(0.42);

INSERT INTO partners_city (name, slug, time_zone, currency)
SELECT 'Bench City ' || i, 'bench-city-' || i,
       (ARRAY['Asia/Kolkata', 'Europe/London', 'America/New_York', 'Asia/Singapore',
              'Australia/Sydney'])[1 + i %% 5], ''
FROM generate_series(1, %(cities)s) AS i;

INSERT INTO partners_service (name, slug, description, active)
SELECT 'Bench service ' || i, 'bench-service-' || i, '', true
FROM generate_series(1, %(services)s) AS i;

INSERT INTO partners_servicevariant
    (service_id, name, tier, price_minor, currency, duration_minutes, active)
SELECT s.id, t.name, t.tier, 19900 + (s.id %% 10) * 1000 + t.extra, 'INR', t.minutes, true
FROM partners_service AS s
CROSS JOIN (VALUES ('Basic', 'basic', 0, 60), ('Premium', 'premium', 20000, 60),
                   ('Express', 'express', 10000, 30)) AS t(name, tier, extra, minutes);

-- Customer ids far above every slot, partner and variant id, a price or a count: the
-- replay (bench.replay) gives each client its own customer by substituting the id by value.
SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %(customer_floor)s);

INSERT INTO accounts_user
    (password, email, name, phone, role, is_active, is_staff, is_superuser, date_joined)
SELECT '!', 'bench-customer-' || i || '@example.test', 'Bench customer ' || i, '',
       'customer', true, false, false, now()
FROM generate_series(0, %(customers)s) AS i;

INSERT INTO partners_partner
    (name, city_id, rating, verified, active, webhook_url, webhook_secret, created_at)
SELECT 'Bench partner ' || i,
       (SELECT min(id) FROM partners_city) + i %% %(cities)s,
       round((3 + random() * 2)::numeric, 2),
       random() < 0.95, random() < 0.97, '', '', now()
FROM generate_series(0, %(partners)s - 1) AS i;

INSERT INTO partners_partneroffering
    (partner_id, variant_id, service_id, price_minor, currency, active, created_at, updated_at)
-- Spread services independently of the city (city = id mod 20); +0/+3/+6 stay distinct.
-- Every variant of the partner's services, at the partner's own price (list -5 %%..+5 %%).
SELECT p.id, v.id, v.service_id, v.price_minor + (p.id %% 11 - 5) * v.price_minor / 100,
       v.currency, true, now(), now()
FROM partners_partner AS p
CROSS JOIN generate_series(0, 2) AS k
JOIN partners_servicevariant AS v
  ON v.service_id = (SELECT min(id) FROM partners_service)
                    + (p.id * 7 + p.id / 20 + k * 3) %% %(services)s;

-- Hourly slots aligned on the hour (so partners tie on start), 10 per day from 08:00 UTC
-- shifted by partner, first day in the past.
INSERT INTO partners_slot
    (partner_id, city_id, start, "end", capacity, booked, blocked, created_at)
SELECT p.id, p.city_id, st, st + interval '1 hour', cap,
       CASE WHEN full_ THEN cap ELSE 0 END, blk, now()
FROM partners_partner AS p
CROSS JOIN LATERAL (
    SELECT date_trunc('day', now()) - interval '1 day' + (k / 10) * interval '1 day'
           + (8 + p.id %% 4 + k %% 10) * interval '1 hour' AS st,
           CASE WHEN random() < 0.8 THEN 1 ELSE 5 END AS cap,
           random() < 0.30 AS full_,
           random() < 0.02 AS blk
    FROM generate_series(0, %(slots_per_partner)s - 1) AS k
) AS g;

-- Each slot's one seat type, as partners.services.create_slots makes it.
INSERT INTO partners_slotseattype (slot_id, code, label, capacity, booked)
SELECT id, 'standard', 'Standard', capacity, booked FROM partners_slot;

-- The seats of full slots are held by CONFIRMED bookings (inventory == bookings).
INSERT INTO bookings_booking
    (quantity, amount_minor, currency, status, holds_seats, hold_expires_at, created_at,
     updated_at, customer_id, partner_id, slot_id, slot_start, slot_end, variant_id,
     reschedule_count, counts_as_pending, seat_type)
SELECT s.capacity, v.price_minor * s.capacity, v.currency, 'CONFIRMED', true, NULL, now(),
       now(), (SELECT min(id) FROM accounts_user), s.partner_id, s.id, s.start, s."end", v.id,
       0, false, 'standard'
FROM partners_slot AS s
JOIN LATERAL (
    SELECT v.id, o.price_minor, o.currency
    FROM partners_partneroffering AS o
    JOIN partners_servicevariant AS v ON v.id = o.variant_id AND v.tier = 'basic'
    WHERE o.partner_id = s.partner_id
    ORDER BY v.service_id LIMIT 1
) AS v ON true
WHERE s.booked > 0;
"""


def admin_url(database_url: str) -> str:
    base, _, _name = database_url.rpartition("/")
    return f"{base}/postgres"


def db_name(database_url: str) -> str:
    return database_url.rpartition("/")[2].split("?")[0]


def recreate_database(database_url: str) -> None:
    name = db_name(database_url)
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrate(env: dict) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        check=True,
        env=env,
        cwd=ROOT,
    )


def load(database_url: str, *, partners: int, log) -> dict:
    """Fill the (migrated, empty) database; returns row counts and the load time."""
    started = time.perf_counter()
    params = {
        "cities": CITIES,
        "services": SERVICES,
        "customers": CUSTOMERS,
        "customer_floor": CUSTOMER_ID_FLOOR,
        "partners": partners,
        "slots_per_partner": SLOTS_PER_PARTNER,
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        for statement in [s for s in LOAD_SQL.split(";\n") if s.strip()]:
            conn.execute(statement, params)
        log("  analyze + checkpoint")
        conn.execute("VACUUM ANALYZE")
        # Flush the load's dirty pages now, so the measurements that follow do not share
        # the disk and the cores with the checkpoint of a million-row load.
        conn.execute("CHECKPOINT")
        counts = {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in (
                "partners_partner",
                "partners_slot",
                "bookings_booking",
                "accounts_user",
            )
        }
    counts["load_seconds"] = round(time.perf_counter() - started, 1)
    return counts


def customer_ids(database_url: str) -> list[int]:
    """Benchmark customers (the first one owns the seed bookings and is not used)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id FROM accounts_user WHERE email LIKE 'bench-customer-%' ORDER BY id"
        ).fetchall()
    return [row[0] for row in rows[1:]]


def env_for(database_url: str) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url)
    return env
