#!/usr/bin/env python
"""Slotwise benchmark (not a test): assignment query latency and booking throughput.

    .venv/bin/python bench/run.py                 # scale 1: 10k partners, 1M slots
    .venv/bin/python bench/run.py --scale 0.1     # quick: 1k partners, 100k slots
    .venv/bin/python bench/run.py --help

Creates (drops first) the PostgreSQL database of ``--database-url`` (default
``postgres://postgres@127.0.0.1:5432/slotwise_bench``), migrates and loads it with
generate_series, then

1. runs the partner-assignment query (``bookings.selectors.assignment_candidates``)
   for random cities/services/windows: p50/p99 latency, and its EXPLAIN (ANALYZE);
2. starts gunicorn on ``--port`` against that database and books with ``--clients``
   concurrent HTTP clients (JWT, Idempotency-Key, sandbox payment) on a hot set of 8
   slots and on spread-out slots, each for ``--seconds``;
3. runs a raw psycopg loop doing the same booking transaction (conditional UPDATE +
   INSERT booking + INSERT timeline event) with the same number of threads on the
   same kind of slots, and reports HTTP as a ratio of it;
4. after every run checks that no slot is oversold and that ``booked`` equals the
   seats of seat-holding bookings on every slot;
5. writes ``docs/benchmarks.md`` (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dataset, loadgen, report  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/slotwise_bench"
SECRET_KEY = "bench-only-secret-not-for-production"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 10k partners, 1M slots")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument(
        "--reuse", action="store_true", help="keep an already loaded database (skip the load)"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--seconds", type=float, default=20, help="duration of each run (20)")
    parser.add_argument("--assign-queries", type=int, default=300, help="assignment samples")
    parser.add_argument("--port", type=int, default=8765, help="gunicorn port (8765)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (8)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["SECRET_KEY"] = SECRET_KEY
    # Production mode (DATABASE_URL set) has no sandbox unless opted in; the benchmark
    # books through it (no network). gunicorn inherits this environment (dataset.env_for).
    os.environ["PAYMENT_DEFAULT_GATEWAY"] = "sandbox"
    os.environ["PAYMENT_SANDBOX_ENABLED"] = "true"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def bench_assignment(samples: int, rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from bookings.selectors import assignment_candidates
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

    for _ in range(20):  # warm the connection and caches
        assignment_candidates(**sample_kwargs()).first()
    latencies, found = [], 0
    for _ in range(samples):
        kwargs = sample_kwargs()
        started = time.perf_counter()
        slot = assignment_candidates(**kwargs).first()
        latencies.append(time.perf_counter() - started)
        found += slot is not None

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
        sql, params = assignment_candidates(**kwargs)[:1].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plans[label] = "\n".join(row[0] for row in cursor.fetchall())
    ordered = sorted(latencies)
    indexes = sorted(set(re.findall(r"using (\w+)", "\n".join(plans.values()), re.I)))
    return {
        "samples": samples,
        "found": found,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "max_ms": ordered[-1] * 1000,
        "plans": plans,
        "indexes": indexes,
        "seq_scan_on_slots": any("Seq Scan on partners_slot" in plan for plan in plans.values()),
        "sql": assignment_candidates(**examples["no window"])[:1].query.sql_with_params()[0],
    }


def profile_one_booking(target, customer_id: int) -> dict:
    """SQL statements and commits of one POST /bookings, in-process (same code path)."""
    import uuid

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    client = APIClient()
    user = User.objects.get(pk=customer_id)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/api/v1/bookings",
            {"slot_id": target.slot_id, "variant_id": target.variant_id},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    if response.status_code != 201:
        raise RuntimeError(f"profiled booking failed: {response.status_code} {response.content!r}")
    statements = [q["sql"] for q in captured.captured_queries]
    commits = sum(1 for q in statements if q.startswith("COMMIT") or q.startswith('UPDATE "common'))
    return {
        "status": response.status_code,
        "statements": len([q for q in statements if q not in ("BEGIN", "COMMIT")]),
        "commits": commits,
    }


def start_gunicorn(args, database_url: str) -> subprocess.Popen:
    env = dataset.env_for(database_url)
    env.update(
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        LOG_LEVEL="WARNING",
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    for name in ("REDIS_URL", "DEBUG", "CELERY_BROKER_URL"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
    ]
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


def access_tokens(customer_ids: list[int]) -> list[str]:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    users = User.objects.filter(pk__in=customer_ids).order_by("pk")
    return [str(AccessToken.for_user(user)) for user in users]


def main(argv=None) -> int:
    args = parse_args(argv)
    partners = max(100, int(10_000 * args.scale))
    url = args.database_url
    machine = report.machine_info(url)
    log(f"database {url}; {partners} partners x {dataset.SLOTS_PER_PARTNER} slots")
    if args.reuse:
        counts = {"reused": True}
    else:
        log("create + migrate")
        dataset.recreate_database(url)
        dataset.migrate(dataset.env_for(url) | {"SECRET_KEY": SECRET_KEY})
        log("load")
        counts = dataset.load(url, partners=partners, log=log)
        log(f"  {counts}")
    setup_django(url)
    rng = random.Random(7)

    log(f"assignment: {args.assign_queries} queries")
    assignment = bench_assignment(args.assign_queries, rng)
    log(
        f"  p50 {assignment['p50_ms']:.2f} ms, p99 {assignment['p99_ms']:.2f} ms, "
        f"indexes {assignment['indexes']}"
    )

    spread_size = min(100_000, partners * 10)
    hot = loadgen.sample_targets(url, count=8, bucket=0, salt="hot")
    loadgen.make_hot(url, hot, capacity=1_000_000)
    spread_http = loadgen.sample_targets(url, count=spread_size, bucket=1, salt="http")
    spread_raw = loadgen.sample_targets(url, count=spread_size, bucket=2, salt="raw")
    customers = dataset.customer_ids(url)
    profile = profile_one_booking(spread_http.pop(), customers[0])
    log(f"one HTTP booking: {profile}")
    before = loadgen.check_invariant(url)
    log(f"invariant before: {before}")

    tokens = access_tokens(customers)
    common = {"clients": args.clients, "seconds": args.seconds}
    runs = []

    def measure(scenario: str, kind: str, run) -> None:
        log(f"{kind} {scenario}: {args.clients} clients for {args.seconds:g}s")
        load_before = os.getloadavg()[0]
        result = run()
        invariant = loadgen.check_invariant(url)
        runs.append((scenario, kind, result, invariant, load_before))
        log(
            f"  {result.requests} requests, {result.throughput:.0f}/s, "
            f"p50 {result.p50:.1f} ms, p99 {result.percentile(0.99):.1f} ms, "
            f"statuses {result.statuses}, invariant {invariant}"
        )
        for error in result.errors[:3]:
            log(f"  error: {error}")

    log(f"gunicorn: {args.workers} workers x {args.threads} threads on :{args.port}")
    server = start_gunicorn(args, url)
    try:
        base = f"http://127.0.0.1:{args.port}"
        for scenario, targets in (("hot", hot), ("spread", spread_http)):
            measure(
                scenario,
                "http",
                lambda t=targets, n=scenario: loadgen.http_run(
                    f"HTTP {n}", base_url=base, tokens=tokens, targets=t, **common
                ),
            )
    finally:
        # Stopped before the raw runs: its pooled connections must not count twice.
        server.terminate()
        server.wait(timeout=30)
    for scenario, targets in (("hot", hot), ("spread", spread_raw)):
        measure(
            scenario,
            "raw",
            lambda t=targets, n=scenario: loadgen.raw_run(
                f"raw {n}", database_url=url, customer_ids=customers, targets=t, **common
            ),
        )

    text = report.render(
        args=args,
        argv=sys.argv[1:] if argv is None else argv,
        machine=machine,
        counts=counts,
        partners=partners,
        assignment=assignment,
        runs=runs,
        spread_size=spread_size,
        profile=profile,
    )
    if args.no_write:
        print(text)
    else:
        Path(args.output).write_text(text)
        log(f"wrote {args.output}")
    broken = [r for r in runs if r[3]["mismatched"] or r[3]["oversold"]]
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
