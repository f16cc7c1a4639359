"""The in-process metrics: request latency by view, observed by the middleware.

Under gunicorn each worker process counts its own requests. With
``PROMETHEUS_MULTIPROC_DIR`` set (before the first import of prometheus_client: the
environment of gunicorn) every process writes its samples to files in that directory and
a scrape of any worker adds them all up (``monitoring.views``); without it a scrape shows
only the worker that answered. gunicorn.conf.py empties the directory when the server
starts and forgets a worker that exits.
"""

from __future__ import annotations

from prometheus_client import Histogram

# From a cached read (~5 ms) to a slow gateway call; the booking path sits in between.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "slotwise_http_request_duration_seconds",
    "Time to answer an HTTP request, by view (URL name), method and status code.",
    ["view", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
