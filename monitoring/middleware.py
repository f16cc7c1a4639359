"""Request latency by view and one log line per request; no SQL, no I/O."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from monitoring.metrics import REQUEST_LATENCY

logger = logging.getLogger("monitoring.requests")

# A request that matched no URL: one label for all of them, never the path (every
# scanner's probe would be a new series).
UNMATCHED = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def view_label(request: HttpRequest) -> str:
    """The URL name of the view that answered (``bookings-detail``), else its route."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.view_name or match.route or UNMATCHED


class RequestMetricsMiddleware:
    """Observes every request's duration in ``slotwise_http_request_duration_seconds`` and
    logs it at INFO (``monitoring.requests``), with the request id of the line's context."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        view = view_label(request)
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        REQUEST_LATENCY.labels(view, method, str(response.status_code)).observe(duration)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s %s %s %.1fms",
                method,
                view,
                response.status_code,
                duration * 1000,
                extra={
                    "view": view,
                    "method": method,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
        return response
