"""Abuse limits shared by the apps: the request body size and per-user rate limits.

* :class:`RequestBodyLimitMiddleware` answers 413 ``payload_too_large`` before any view
  reads a body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``MAX_REQUEST_BODY_BYTES``).
  DRF's parsers read the stream themselves, so Django's own check never fires for them.
* :class:`UserRateThrottle` limits one scope (``booking``, ``cancel`` ...) per user, at the
  rate ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]`` read on every request; over
  the limit is a 429 ``throttled`` problem with ``Retry-After``. Counters live in the
  cache: when the cache is down the limit is not enforced (it degrades, the request is
  not lost; django-redis is told to ignore connection errors in the settings).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from common.problems import problem_json_response


def payload_too_large_response():
    return problem_json_response(
        status_code=413,
        code="payload_too_large",
        title="Payload too large",
        detail=f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
    )


class RequestBodyLimitMiddleware:
    """Refuse a declared body over the limit (413), or an unreadable ``Content-Length``
    (400), before the URL's view runs; nothing of the body is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            return problem_json_response(
                status_code=400,
                code="malformed_request",
                title="Malformed request",
                detail="The Content-Length header is not a non-negative integer.",
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return payload_too_large_response()
        return self.get_response(request)


class UserRateThrottle(ScopedRateThrottle):
    """Per-user limit of the view's ``throttle_scope`` (anonymous callers by address).

    DRF binds ``THROTTLE_RATES`` once at import; reading the rate per request lets a
    settings change (a test override, a reload) take effect. A scope without a rate is
    not limited.
    """

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope or not self.get_rate():
            return True
        return super().allow_request(request, view)
