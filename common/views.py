"""Health check and the problem-details handlers for non-API errors."""

import logging

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.broker import broker_status
from common.problems import problem_json_response

logger = logging.getLogger(__name__)


class HealthChecksSerializer(serializers.Serializer):
    database = serializers.CharField(help_text='"ok" or "error".')
    cache = serializers.CharField(help_text='"ok" or "error" (an error alone is not a 503).')
    broker = serializers.CharField(
        help_text='"ok", "error" (unreachable; alone not a 503) or "in_process" (embedded '
        "mode: tasks run in the web process, there is no broker)."
    )


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"ok", or "error" when the database is down.')
    checks = HealthChecksSerializer()


class HealthView(APIView):
    """``GET /health`` for load balancers: no authentication, no throttling, GET only.

    A DRF view, so another method is a 405 problem (not Django's CSRF page) and the
    endpoint is in the OpenAPI schema.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        tags=["health"],
        summary="Database, cache and Celery broker status",
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        checks = _health_checks()
        healthy = checks["database"] == "ok"
        return Response(
            {"status": "ok" if healthy else "error", "checks": checks},
            status=200 if healthy else 503,
        )


# How long the broker may take to answer a health check: load balancers probe often and
# give up after a few seconds.
BROKER_CHECK_TIMEOUT_SECONDS = 1.0


def _health_checks() -> dict[str, str]:
    """Database, cache and broker status; the caller answers 503 when the database is down.

    Only the database is fatal: without it no request can be served. The cache degrades
    (misses, throttles stop counting) and so does the broker: bookings, payments and
    webhooks are still taken, their tasks' work is in the database (outbox rows, refunds,
    holds) and the beat sweeps catch up once the broker is back, while on_commit enqueues
    fail quietly. The broker is shared by every web node, so a 503 for it would make the
    load balancer take them all out at once and turn late side effects into an outage.
    """
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.exception("health: database check failed")
        checks["database"] = "error"
    try:
        cache.set("health:ping", "1", timeout=5)
        checks["cache"] = "ok" if cache.get("health:ping") == "1" else "error"
    except Exception:
        logger.exception("health: cache check failed")
        checks["cache"] = "error"
    checks["broker"] = broker_status(timeout=BROKER_CHECK_TIMEOUT_SECONDS)
    return checks


def bad_request(request, exception=None):
    return problem_json_response(
        status_code=400, code="bad_request", title="Bad request", detail="Bad request."
    )


def permission_denied(request, exception=None):
    return problem_json_response(
        status_code=403,
        code="permission_denied",
        title="Permission denied",
        detail="You do not have permission to perform this action.",
    )


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a 403 problem instead of Django's HTML page."""
    return problem_json_response(
        status_code=403,
        code="csrf_failed",
        title="CSRF verification failed",
        detail=f"CSRF verification failed: {reason}" if reason else "CSRF verification failed.",
    )


def not_found(request, exception=None):
    return problem_json_response(
        status_code=404, code="not_found", title="Not found", detail="No such resource."
    )


def server_error(request):
    return problem_json_response(
        status_code=500,
        code="server_error",
        title="Server error",
        detail="An unexpected error occurred.",
    )
