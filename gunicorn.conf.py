"""gunicorn settings for Slotwise (``gunicorn -c gunicorn.conf.py config.wsgi``).

Used by the Dockerfile / docker-compose ``web`` service and by the benchmark
(``bench/run.py``), so what is measured is what is deployed. Every value can be
overridden from the environment (``GUNICORN_*``) or the command line.

Why these defaults (docs/benchmarks.md, docs/scaling.md): a request is CPU-bound
Python (JWT, DRF, serialisation) with short database waits in between. One process
per core keeps the cores busy without fighting over the GIL; a few threads per process
overlap those waits (PostgreSQL round trips and commits, the gateway call). ``gthread``
also keeps idle keep-alive connections out of the worker threads, so 32 client
connections do not need 32 threads. More threads than ~4 per process only queue more
requests behind one GIL and lengthen the tail. Each thread holds at most one database
connection: workers x threads is the connection count per app box (or size the pool,
``DB_POOL_MAX_SIZE``, to the threads of one process).
"""

import multiprocessing
import os
from pathlib import Path

from prometheus_client import multiprocess


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


_cores = multiprocessing.cpu_count()

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", max(2, _cores))
threads = _int("GUNICORN_THREADS", 4)
# Room for bursts: connections wait in the kernel queue instead of being refused.
backlog = _int("GUNICORN_BACKLOG", 2048)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Recycle workers now and then (slow leaks in long-lived processes), staggered.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (README, Deployment).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Request metrics of all workers in one scrape (monitoring/metrics.py): with
# PROMETHEUS_MULTIPROC_DIR set, every worker writes its samples there. The files of a
# previous run would be added to this one's, so the directory starts empty.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def on_starting(server) -> None:
    if _metrics_dir:
        Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
        for path in Path(_metrics_dir).glob("*.db"):
            path.unlink()


def child_exit(server, worker) -> None:
    if _metrics_dir:
        multiprocess.mark_process_dead(worker.pid)
