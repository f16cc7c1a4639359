"""``GET /metrics``: the Prometheus text format, for a scraper holding ``METRICS_TOKEN``."""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from common.problems import problem_json_response
from monitoring.collectors import BusinessCollector


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """The problem answer of a scrape that may not read the metrics, else None.

    Open only in the embedded mode without a token; everywhere else the request needs
    ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time).
    """
    if settings.METRICS_OPEN:
        return None
    token = settings.METRICS_TOKEN
    if not token:
        return problem_json_response(
            status_code=403,
            code="metrics_disabled",
            title="Metrics disabled",
            detail="Metrics are served only to a scraper with METRICS_TOKEN; none is set.",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    response = problem_json_response(
        status_code=401,
        code="not_authenticated",
        title="Authentication required",
        detail="Send Authorization: Bearer <METRICS_TOKEN>.",
    )
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def process_registry() -> CollectorRegistry:
    """The request metrics: of every gunicorn worker when they share
    ``PROMETHEUS_MULTIPROC_DIR``, else of this process (with its CPU and memory)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@csrf_exempt  # no cookie session here: any method but GET is a 405 problem, not a CSRF 403
def metrics(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = problem_json_response(
            status_code=405,
            code="method_not_allowed",
            title="Method not allowed",
            detail=f'Method "{request.method}" not allowed.',
        )
        response["Allow"] = "GET, HEAD"
        return response
    refusal = scrape_refusal(request)
    if refusal is not None:
        return refusal
    business = CollectorRegistry(auto_describe=False)
    business.register(BusinessCollector())
    # Two registries, one exposition: their metric names differ, so the texts concatenate.
    body = generate_latest(process_registry()) + generate_latest(business)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
