#!/usr/bin/env python
"""Slotwise benchmark (not a test): what a booking costs the database and the app.

    .venv/bin/python bench/run.py                 # make bench: scale 1 (10k partners, 1M slots)
    .venv/bin/python bench/run.py --quick         # scale 0.1, short runs, under 3 minutes
    .venv/bin/python bench/run.py --help

Creates (drops first) the PostgreSQL database of ``--database-url`` (default
``postgres://postgres@127.0.0.1:5432/slotwise_bench_run``), migrates and loads it with
generate_series, then, all in one run so that every figure is a ratio to another
measured on the same busy machine:

1. the partner-assignment query: p50/p99 of the SQL alone and through the ORM, EXPLAIN;
2. in-process (Django test client): the statements and commits of one
   ``POST /api/v1/bookings`` with an Idempotency-Key (sandbox gateway), captured with
   an execute wrapper, and the CPU time (``time.process_time``) per booking and per
   ``GET /api/v1/auth/me`` over ``--cpu-requests`` requests each;
3. raw psycopg loops with ``--clients`` threads: the minimal booking transaction
   (conditional UPDATE + 2 INSERTs, 1 commit), the captured HTTP sequence replayed
   (the database ceiling of our path) and the seed design (Redis lock per slot +
   SELECT ... FOR UPDATE), on hot, spread and low-contention slot sets;
4. gunicorn (``gunicorn.conf.py``) under ``wrk`` with ``--clients`` connections:
   bookings hot and spread (fresh Idempotency-Key per request, a pool of tokens), and
   signed Razorpay ``payment.captured`` webhooks, one in five a duplicate;
5. after every load run, no slot oversold and ``booked`` equal to the seats of the
   seat-holding bookings on every slot;
6. writes ``docs/benchmarks.md`` (unless ``--no-write``) and prints ``BENCH {json}``.

Without ``wrk`` the HTTP runs are skipped with an install hint; the rest still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dataset, inprocess, loadgen, replay, report, webhooks, wrk  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/slotwise_bench_run"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
SECRET_KEY = "bench-only-secret-not-for-production"
HOT_SLOTS = 8
CEILING_SLOTS = 1000
ROOMY = 1_000_000
WEBHOOK_PROFILED = 101  # 1 captured + 100 for CPU time
REPLAY_MIN_ID = 300


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--quick", action="store_true", help="scale 0.1, 6 s runs (< 3 min)")
    parser.add_argument("--scale", type=float, help="1.0 = 10k partners, 1M slots (default)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument(
        "--reuse", action="store_true", help="keep an already loaded database (skip the load)"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--seconds", type=float, help="duration of each load run (20; quick 6)")
    parser.add_argument("--assign-queries", type=int, help="assignment samples (500; quick 200)")
    parser.add_argument("--cpu-requests", type=int, default=300, help="in-process requests (300)")
    parser.add_argument("--port", type=int, default=8765, help="gunicorn port (8765)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, help="threads per worker (gunicorn.conf.py)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    args.scale = args.scale or (0.1 if args.quick else 1.0)
    args.seconds = args.seconds or (6 if args.quick else 20)
    args.assign_queries = args.assign_queries or (200 if args.quick else 500)
    return args


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def bench_environment(database_url: str, redis_url: str) -> None:
    """The settings of every process of the run (migrate, this one, gunicorn, the worker)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["SECRET_KEY"] = SECRET_KEY
    # Production mode (DATABASE_URL set) has no sandbox unless opted in; the benchmark
    # books through it (no network). gunicorn inherits this environment (dataset.env_for).
    os.environ["PAYMENT_DEFAULT_GATEWAY"] = "sandbox"
    os.environ["PAYMENT_SANDBOX_ENABLED"] = "true"
    os.environ["RAZORPAY_WEBHOOK_SECRET"] = webhooks.WEBHOOK_SECRET
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    os.environ["SMS_BACKEND"] = "notifications.sms.DummySmsBackend"
    # As deployed: Redis is the cache and the Celery broker, tasks (notifications,
    # refunds) are enqueued for workers, not run inside the web request.
    os.environ["REDIS_URL"] = redis_url
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ["CACHE_KEY_PREFIX"] = "slotwise-bench"
    # The load is a few customers booking thousands of times: the abuse limits stay on (their
    # cost is measured) but far above what the run reaches. The booking throttle keeps
    # every request time of its window in the cache (DRF's history list, read and written
    # per request): a one-second window keeps that list as short as production's (30 an
    # hour), where an hour at this rate would grow it by every booking of the run (and of
    # the runs before it within the hour), and its cost with it.
    os.environ["MAX_PENDING_BOOKINGS"] = "100000000"
    os.environ["BOOKING_THROTTLE_RATE"] = "1000000/s"
    for name in ("DEBUG", "CELERY_BROKER_URL", "DATABASE_REPLICA_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def setup_django() -> None:
    import django

    django.setup()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_assignment(samples: int, rng: random.Random) -> dict:
    """best_assignment as the view calls it (Python included), and its SQL alone."""
    from django.db import connection
    from django.utils import timezone

    from bookings.selectors import ASSIGNMENT_SQL, assignment_params, best_assignment
    from partners.models import City, Service

    cities = list(City.objects.order_by("pk"))
    services = list(Service.objects.order_by("pk"))
    now = timezone.now()

    def sample_kwargs() -> dict:
        kwargs = {"city": rng.choice(cities), "service": rng.choice(services)}
        mode = rng.randrange(3)
        if mode:
            kwargs["start_from"] = now + timedelta(hours=rng.randrange(0, 24 * 7))
        if mode == 2:
            kwargs["start_to"] = kwargs["start_from"] + timedelta(hours=rng.choice([4, 24]))
        return kwargs

    # Steady state: a first pass as long as the measured one warms the connection and
    # the cache with the same mix (a cold page read is a disk story, not the query's).
    for _ in range(samples):
        best_assignment(**sample_kwargs())
    load = os.getloadavg()[0]
    orm, sql_only, found = [], [], 0
    with connection.cursor() as cursor:
        for _ in range(samples):
            kwargs = sample_kwargs()
            started = time.perf_counter()
            slot = best_assignment(**kwargs)
            orm.append((time.perf_counter() - started) * 1000)
            found += slot is not None
            started = time.perf_counter()
            cursor.execute(ASSIGNMENT_SQL, assignment_params(**kwargs))
            cursor.fetchall()
            sql_only.append((time.perf_counter() - started) * 1000)

    plans = {}
    examples = {
        "no window": {"city": cities[0], "service": services[0]},
        "24 h window, 3 days ahead": {
            "city": cities[1],
            "service": services[1],
            "start_from": now + timedelta(days=3),
            "start_to": now + timedelta(days=4),
        },
    }
    for label, kwargs in examples.items():
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + ASSIGNMENT_SQL, assignment_params(**kwargs)
            )
            plans[label] = "\n".join(row[0] for row in cursor.fetchall())
    indexes = sorted(set(re.findall(r"using (\w+)", "\n".join(plans.values()), re.I)))
    buffers = []
    for plan in plans.values():  # the top node's Buffers line: the whole query's reads
        top = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", plan)
        buffers.append(int(top[1]) + int(top[2] or 0) if top else 0)
    return {
        "samples": samples,
        "found": found,
        "load": load,
        "p50_ms": statistics.median(sql_only),
        "p99_ms": _percentile(sql_only, 0.99),
        "max_ms": max(sql_only),
        "orm_p50_ms": statistics.median(orm),
        "orm_p99_ms": _percentile(orm, 0.99),
        "plans": plans,
        "indexes": indexes,
        "buffers": buffers,
        "seq_scan_on_slots": any("Seq Scan on partners_slot" in plan for plan in plans.values()),
        "sql": ASSIGNMENT_SQL.strip(),
    }


def in_process(*, profile_target, cpu_targets, customer_id: int, requests_each: int) -> dict:
    """Statements/commits of one booking, and CPU per booking vs per GET /auth/me."""
    import uuid

    from django.db import connection
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    client = APIClient()
    user = User.objects.get(pk=customer_id)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    # One booking first: the captured one is a warm request, as under load.
    inprocess.booking_request(
        client, slot_id=cpu_targets[0].slot_id, variant_id=cpu_targets[0].variant_id
    )
    key = f"bench-profile-{uuid.uuid4()}"
    with inprocess.capture(connection) as captured:
        response = inprocess.booking_request(
            client, slot_id=profile_target.slot_id, variant_id=profile_target.variant_id, key=key
        )
    if response.status_code != 201:
        raise RuntimeError(f"profiled booking failed: {response.status_code} {response.content!r}")
    order_id = response.json()["payment"]["order_id"]

    rng = random.Random(3)

    def book():
        target = rng.choice(cpu_targets)
        answer = inprocess.booking_request(
            client, slot_id=target.slot_id, variant_id=target.variant_id
        )
        if answer.status_code != 201:
            raise RuntimeError(f"in-process booking: {answer.status_code} {answer.content!r}")

    def me():
        answer = client.get("/api/v1/auth/me")
        if answer.status_code != 200:
            raise RuntimeError(f"in-process /auth/me: {answer.status_code}")

    # Interleaved halves, so a burst of load from elsewhere hits both alike.
    cpu_booking, cpu_me = [], []
    for _ in range(2):
        cpu_booking.append(inprocess.cpu_ms_per_request(book, requests=requests_each // 2))
        cpu_me.append(inprocess.cpu_ms_per_request(me, requests=requests_each // 2))
    return {
        "captured": captured,
        "key": key,
        "order_id": order_id,
        "statements": len(captured.statements),
        "commits": captured.commits,
        "sql": captured.summary(),
        "cpu_ms_booking": statistics.mean(cpu_booking),
        "cpu_ms_me": statistics.mean(cpu_me),
        "cpu_requests": 2 * (requests_each // 2),
    }


def profile_webhooks(payments) -> dict:
    """One signed payment.captured captured in-process, then CPU per webhook over 100: the
    request (verify, record, publish the task to the broker), then applying the recorded
    events here as the worker does (``apply_stored_webhook``), the first one captured."""
    from django.db import connection
    from django.test import Client

    from payments.models import WebhookEvent
    from payments.webhooks import apply_stored_webhook

    client = Client()
    delivered: list[str] = []

    def deliver(payment):
        body, signature, event_id = webhooks.captured_delivery(*payment)
        answer = client.post(
            "/webhooks/razorpay",
            data=body,
            content_type="application/json",
            HTTP_X_RAZORPAY_SIGNATURE=signature,
            HTTP_X_RAZORPAY_EVENT_ID=event_id,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"in-process webhook: {answer.status_code} {answer.content!r}")
        delivered.append(event_id)

    with inprocess.capture(connection) as captured:
        deliver(payments[0])
    rest = iter(payments[1:])
    cpu_ms = inprocess.cpu_ms_per_request(
        lambda: deliver(next(rest)), requests=len(payments) - 1, warmup=0
    )
    ledger = WebhookEvent.objects.filter(gateway="razorpay", event_id__in=delivered)
    by_event_id = dict(ledger.values_list("event_id", "pk"))
    event_ids = [by_event_id[event_id] for event_id in delivered]
    with inprocess.capture(connection) as applied:
        outcome = apply_stored_webhook(event_id=event_ids[0])
    if outcome != "processed":
        raise RuntimeError(f"in-process apply: {outcome}")
    pending = iter(event_ids[1:])
    apply_ms = inprocess.cpu_ms_per_request(
        lambda: apply_stored_webhook(event_id=next(pending)),
        requests=len(event_ids) - 1,
        warmup=0,
    )
    return {
        "statements": len(captured.statements),
        "commits": captured.commits,
        "sql": captured.summary(),
        "cpu_ms": cpu_ms,
        "apply_statements": len(applied.statements),
        "apply_commits": applied.commits,
        "apply_sql": applied.summary(),
        "apply_cpu_ms": apply_ms,
    }


def drain_webhooks(args, database_url: str, timeout: float = 600) -> dict:
    """Start a Celery worker (prefork, one process per core) on the recorded webhooks'
    tasks and wait until no ledger row is pending; the worker's rate is read from the
    rows' ``processed_at`` (``webhooks.outcome``)."""
    env = dataset.env_for(database_url)
    env.update(SECRET_KEY=SECRET_KEY, LOG_LEVEL="WARNING")
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=prefork",
        f"--concurrency={os.cpu_count() or 2}",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "--loglevel=WARNING",
    ]
    started = time.monotonic()
    worker = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        while webhooks.pending_count(database_url) and time.monotonic() - started < timeout:
            time.sleep(0.5)
    finally:
        worker.terminate()  # warm shutdown: the task in hand finishes
        worker.wait(timeout=60)
    return {"left_pending": webhooks.pending_count(database_url)}


def start_gunicorn(args, database_url: str) -> subprocess.Popen:
    env = dataset.env_for(database_url)
    env.update(
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        GUNICORN_BIND=f"127.0.0.1:{args.port}",
        GUNICORN_LOG_LEVEL="warning",
        LOG_LEVEL="WARNING",
    )
    if args.workers:
        env["GUNICORN_WORKERS"] = str(args.workers)
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{args.port}/health", timeout=10).ok:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        time.sleep(0.5)
    process.terminate()
    process.wait(timeout=30)
    raise SystemExit("gunicorn did not become healthy in 90 s")


def gunicorn_shape(args) -> str:
    probe = (
        "import runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(c['worker_class'], c['workers'], c['threads'])"
    )
    env = dict(os.environ)
    if args.workers:
        env["GUNICORN_WORKERS"] = str(args.workers)
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.split()
    return f"{out[0]} {out[1]} workers x {out[2]} threads" if len(out) == 3 else "?"


def access_tokens(customer_ids: list[int]) -> list[str]:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    users = User.objects.filter(pk__in=customer_ids).order_by("pk")
    return [str(AccessToken.for_user(user)) for user in users]


def roomy(database_url: str, targets) -> None:
    loadgen.make_hot(database_url, targets, capacity=ROOMY)


class Runs:
    """Every load run in order, with the invariant checked right after it."""

    def __init__(self, database_url: str, clients: int, seconds: float):
        self.url, self.clients, self.seconds = database_url, clients, seconds
        self.rows: list[dict] = []

    def alternate(self, scenario: str, paths: dict, rounds: int = 3) -> dict[str, dict]:
        """Raw loops in turn, ``rounds`` short bursts each (A B A B ...), so a burst of load
        from elsewhere on the shared cores hits every path alike; their ratio is the figure."""
        log(
            f"raw {' / '.join(paths)} {scenario}: {self.clients} threads, "
            f"{rounds} x {self.seconds / rounds:g}s each, alternating"
        )
        load = os.getloadavg()[0]
        merged: dict[str, loadgen.RunResult] = {}
        for _ in range(rounds):
            for path, make_worker in paths.items():
                part = loadgen._run_threads(
                    f"{path} {scenario}", self.clients, self.seconds / rounds, make_worker
                )
                into = merged.setdefault(path, loadgen.RunResult(name=part.name, seconds=0.0))
                into.seconds += part.seconds
                into.latencies.extend(part.latencies)
                into.errors.extend(part.errors)
                for status, count in part.statuses.items():
                    into.statuses[status] = into.statuses.get(status, 0) + count
        return {path: self._raw_row(scenario, path, load, r) for path, r in merged.items()}

    def raw(self, scenario: str, path: str, make_worker) -> dict:
        log(f"raw {path} {scenario}: {self.clients} threads for {self.seconds:g}s")
        load = os.getloadavg()[0]
        result = loadgen._run_threads(f"{path} {scenario}", self.clients, self.seconds, make_worker)
        return self._raw_row(scenario, path, load, result)

    def _raw_row(self, scenario: str, path: str, load: float, result) -> dict:
        return self._record(
            scenario=scenario,
            path=path,
            load=load,
            requests=result.requests,
            seconds=result.seconds,
            booked=result.booked,
            refused=result.statuses.get("409", 0),
            errors=result.statuses.get("error", 0),
            p50=result.p50,
            p99=result.percentile(0.99),
            first_errors=result.errors[:3],
        )

    def http(self, scenario: str, path: str, *, base_url: str, script: str) -> dict:
        log(f"wrk {path} {scenario}: {self.clients} connections for {self.seconds:g}s")
        load = os.getloadavg()[0]
        result = wrk.run(
            f"{path} {scenario}",
            base_url=base_url,
            script=script,
            connections=self.clients,
            seconds=self.seconds,
        )
        return self._record(
            scenario=scenario,
            path=path,
            load=load,
            requests=result.requests,
            seconds=result.seconds,
            booked=result.statuses.get("201", 0) + result.statuses.get("200", 0),
            refused=result.statuses.get("409", 0),
            # wrk counts every answer >= 400 as a "status" error; statuses are counted
            # above (409 is an expected answer), so only socket errors are added here.
            errors=result.unexpected
            + sum(n for kind, n in result.socket_errors.items() if kind != "status"),
            p50=result.p50_ms,
            p99=result.p99_ms,
            first_errors=[f"statuses {result.statuses}, sockets {result.socket_errors}"]
            if result.unexpected or set(result.socket_errors) - {"status"}
            else [],
        )

    def _record(self, **row) -> dict:
        row["invariant"] = loadgen.check_invariant(self.url)
        row["rate"] = row["booked"] / row["seconds"] if row["seconds"] else 0.0
        row["req_rate"] = row["requests"] / row["seconds"] if row["seconds"] else 0.0
        self.rows.append(row)
        log(
            f"  {row['requests']} requests, {row['rate']:.0f} ok/s, p50 {row['p50']:.1f} ms, "
            f"p99 {row['p99']:.1f} ms, 409 {row['refused']}, errors {row['errors']}, "
            f"invariant {row['invariant']}"
        )
        for error in row["first_errors"]:
            log(f"  error: {error}")
        return row


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def main(argv=None) -> int:
    args = parse_args(argv)
    partners = max(100, int(10_000 * args.scale))
    url = args.database_url
    if dataset.db_name(url) in ("slotwise", "test_slotwise"):
        raise SystemExit("refusing to drop a shared database: pass a bench-only --database-url")
    started = time.monotonic()
    machine = report.machine_info(url)
    log(f"database {url}; {partners} partners x {dataset.SLOTS_PER_PARTNER} slots")
    # Before migrate: production mode (DATABASE_URL set) refuses to start without some
    # settings (SMS_BACKEND among them), and migrate is a start like any other.
    bench_environment(url, args.redis_url)
    if args.reuse:
        counts = {"reused": True}
    else:
        log("create + migrate")
        dataset.recreate_database(url)
        dataset.migrate(dataset.env_for(url) | {"SECRET_KEY": SECRET_KEY})
        log("load")
        counts = dataset.load(url, partners=partners, log=log)
        log(f"  {counts}")
    setup_django()
    replay.spread_sequences(url)
    rng = random.Random(7)

    log(f"assignment: {args.assign_queries} queries")
    assignment = bench_assignment(args.assign_queries, rng)
    log(
        f"  SQL p50 {assignment['p50_ms']:.2f} ms, p99 {assignment['p99_ms']:.2f} ms; "
        f"ORM p50 {assignment['orm_p50_ms']:.2f} ms, p99 {assignment['orm_p99_ms']:.2f} ms"
    )

    spread_size = min(100_000, partners * 10)
    hot = loadgen.sample_targets(url, count=HOT_SLOTS, bucket=0, salt="hot")
    spread_http = loadgen.sample_targets(url, count=spread_size, bucket=1, salt="http")
    spread_raw = loadgen.sample_targets(url, count=spread_size, bucket=2, salt="raw")
    spread_seed = loadgen.sample_targets(url, count=spread_size, bucket=3, salt="seed")
    # One variant for the whole ceiling set: the replay sends the captured variant id.
    ceiling = loadgen.sample_targets(
        url,
        count=CEILING_SLOTS,
        bucket=4,
        salt="ceiling",
        variant_id=loadgen.first_basic_variant(url),
    )
    webhook_slots = loadgen.sample_targets(
        url, count=min(spread_size, int(500 * args.seconds)), bucket=5, salt="webhook"
    )
    roomy(url, hot + ceiling)
    customers = dataset.customer_ids(url)
    # The profiled target's slot and partner ids are substituted by value in the replay:
    # pick one whose ids cannot be mistaken for a small count, a status, a variant id or
    # its price (customer ids and the written tables' ids are far above, see replay).
    profile_target = next(
        t
        for t in ceiling
        if min(t.slot_id, t.partner_id) > REPLAY_MIN_ID
        and t.slot_id != t.partner_id
        and t.price_minor not in (t.slot_id, t.partner_id)
    )

    log(f"in-process: one booking captured, {args.cpu_requests} bookings and /auth/me")
    with inprocess.logs_to_devnull():
        profile = in_process(
            profile_target=profile_target,
            cpu_targets=ceiling,
            customer_id=customers[0],
            requests_each=args.cpu_requests,
        )
    log(
        f"  {profile['statements']} statements, {profile['commits']} commits; CPU "
        f"{profile['cpu_ms_booking']:.2f} ms/booking vs {profile['cpu_ms_me']:.2f} ms /auth/me"
    )
    plan = replay.ReplayPlan(
        profile["captured"],
        key=profile["key"],
        order_id=profile["order_id"],
        target=profile_target,
        customer_id=customers[0],
    )
    before = loadgen.check_invariant(url)
    log(f"invariant before: {before}")

    runs = Runs(url, args.clients, args.seconds)

    def customer(i: int) -> int:
        return customers[i % len(customers)]

    minimal, seed = {}, {}

    def minimal_loop(targets):
        return lambda i: loadgen.RawWorker(url, customer(i), targets, seed=i)

    def seed_loop(targets):
        return lambda i: replay.SeedDesignWorker(url, args.redis_url, customer(i), targets, seed=i)

    ceiling_rows = runs.alternate(
        "ceiling",
        {
            "raw minimal": minimal_loop(ceiling),
            "raw replay": lambda i: replay.ReplayWorker(url, plan, ceiling, customer(i), seed=i),
        },
    )
    minimal["ceiling"], replayed = ceiling_rows["raw minimal"], ceiling_rows["raw replay"]
    for scenario, ours, theirs in (
        ("hot", hot, hot),
        ("spread", spread_raw, spread_seed),
    ):
        rows = runs.alternate(
            scenario, {"raw minimal": minimal_loop(ours), "raw seed design": seed_loop(theirs)}
        )
        minimal[scenario], seed[scenario] = rows["raw minimal"], rows["raw seed design"]

    http: dict[str, dict] = {}
    webhook_row, webhook_check, webhook_profile = None, None, None
    shape = gunicorn_shape(args)
    if not wrk.available():
        log(f"SKIPPED the HTTP runs: {wrk.INSTALL_HINT}")
    else:
        payments = webhooks.prepare(url, targets=webhook_slots, customer_ids=customers[1:])
        # The runs above wrote hundreds of thousands of rows: fresh statistics, as
        # autovacuum would have them (it may be off on a bench server). Stale ones let
        # the confirmation's UPDATE of one booking by id pick the partial index of
        # pending holds and scan all of them (240 ms instead of 1 ms).
        webhooks.analyze(url)
        profiled, payments = payments[:WEBHOOK_PROFILED], payments[WEBHOOK_PROFILED:]
        with inprocess.logs_to_devnull():
            webhook_profile = profile_webhooks(profiled)
        log(
            f"in-process webhook: {webhook_profile['statements']} statements, "
            f"{webhook_profile['commits']} commits, CPU {webhook_profile['cpu_ms']:.2f} ms"
        )
        deliveries = webhooks.deliveries(payments)
        tokens = access_tokens(customers)
        log(f"gunicorn ({shape}) on :{args.port}")
        server = start_gunicorn(args, url)
        try:
            base = f"http://127.0.0.1:{args.port}"
            for scenario, targets in (("hot", hot), ("spread", spread_http)):
                http[scenario] = runs.http(
                    scenario,
                    "http wrk",
                    base_url=base,
                    script=wrk.booking_script(tokens=tokens, targets=targets),
                )
            # Only the webhooks' apply tasks in the queue for the worker below (the
            # booking runs' notices have no worker in this benchmark).
            redis.Redis.from_url(args.redis_url).delete("celery")
            webhook_row = runs.http(
                "razorpay captured",
                "http webhooks",
                base_url=base,
                script=wrk.webhook_script(deliveries=deliveries, threads=2),
            )
        finally:
            server.terminate()  # graceful: requests in flight finish first
            server.wait(timeout=30)
        if webhook_row:
            log("celery worker: applying the recorded webhooks")
            drained = drain_webhooks(args, url)
            webhook_check = webhooks.outcome(url, [p[0] for p in payments])
            webhook_check.update(drained)
            webhook_check["invariant"] = loadgen.check_invariant(url)
            webhook_check.update(
                deliveries=len(deliveries), unique=len(payments), sent=webhook_row["requests"]
            )
            log(f"  webhooks: {webhook_check}")

    # Tasks the runs enqueued (notifications of confirmed bookings) have no worker here.

    redis.Redis.from_url(args.redis_url).delete("celery")
    invariants = [row["invariant"] for row in runs.rows]
    if webhook_check:  # after the worker applied the recorded webhooks
        invariants.append(webhook_check["invariant"])
    summary = {
        "scale": args.scale,
        "statements_per_booking": profile["statements"],
        "commits_per_booking": profile["commits"],
        "cpu_ms_booking": round(profile["cpu_ms_booking"], 2),
        "cpu_ms_me": round(profile["cpu_ms_me"], 2),
        "cpu_ratio_booking_to_me": _ratio(profile["cpu_ms_booking"], profile["cpu_ms_me"]),
        "db_ceiling_ratio": _ratio(replayed["rate"], minimal["ceiling"]["rate"]),
        "replay_bookings_per_s": round(replayed["rate"], 1),
        "raw_bookings_per_s": round(minimal["hot"]["rate"], 1),
        "raw_bookings_per_s_spread": round(minimal["spread"]["rate"], 1),
        "raw_bookings_per_s_ceiling": round(minimal["ceiling"]["rate"], 1),
        "http_bookings_per_s": round(http["hot"]["rate"], 1) if http else None,
        "http_bookings_per_s_spread": round(http["spread"]["rate"], 1) if http else None,
        "http_to_raw_ratio_hot": _ratio(http["hot"]["rate"], minimal["hot"]["rate"])
        if http
        else None,
        "http_to_raw_ratio_spread": _ratio(http["spread"]["rate"], minimal["spread"]["rate"])
        if http
        else None,
        "http_p50_ms_hot": round(http["hot"]["p50"], 1) if http else None,
        "http_p99_ms_hot": round(http["hot"]["p99"], 1) if http else None,
        "http_p50_ms_spread": round(http["spread"]["p50"], 1) if http else None,
        "http_p99_ms_spread": round(http["spread"]["p99"], 1) if http else None,
        "assignment_p50_ms": round(assignment["p50_ms"], 2),
        "assignment_p99_ms": round(assignment["p99_ms"], 2),
        "assignment_orm_p50_ms": round(assignment["orm_p50_ms"], 2),
        "assignment_orm_p99_ms": round(assignment["orm_p99_ms"], 2),
        "assignment_buffers": assignment["buffers"],
        "assignment_load_avg": round(assignment["load"], 2),
        "webhook_events_per_s": round(webhook_row["req_rate"], 1) if webhook_row else None,
        "webhook_statements": webhook_profile["statements"] if webhook_profile else None,
        "webhook_commits": webhook_profile["commits"] if webhook_profile else None,
        "cpu_ms_webhook": round(webhook_profile["cpu_ms"], 2) if webhook_profile else None,
        "cpu_ms_webhook_apply": round(webhook_profile["apply_cpu_ms"], 2)
        if webhook_profile
        else None,
        "webhook_applied_per_s": webhook_check["applied_per_s"] if webhook_check else None,
        "seed_design_ratio": _ratio(seed["hot"]["rate"], minimal["hot"]["rate"]),
        "seed_design_ratio_spread": _ratio(seed["spread"]["rate"], minimal["spread"]["rate"]),
        "oversold": max(i["oversold"] for i in invariants),
        "mismatched": max(i["mismatched"] for i in invariants),
        "wrk": wrk.available(),
        "seconds": round(time.monotonic() - started),
    }
    text = report.render(
        args=args,
        argv=sys.argv[1:] if argv is None else argv,
        machine=machine,
        counts=counts,
        partners=partners,
        assignment=assignment,
        runs=runs.rows,
        spread_size=spread_size,
        profile=profile,
        summary=summary,
        gunicorn=shape,
        webhook_check=webhook_check,
        webhook_profile=webhook_profile,
    )
    if args.no_write:
        print(text)
    else:
        Path(args.output).write_text(text)
        log(f"wrote {args.output}")
    print("BENCH " + json.dumps(summary), flush=True)
    return 1 if summary["oversold"] or summary["mismatched"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
