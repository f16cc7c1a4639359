"""Health check and the problem-details handlers for non-API errors."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from common.problems import problem_json_response

logger = logging.getLogger(__name__)


@require_GET
def health(request):
    """Database and cache status; 503 when the database is down (the cache degrades only)."""
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
    healthy = checks["database"] == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks},
        status=200 if healthy else 503,
    )


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
