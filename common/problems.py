"""RFC 9457 problem details: the one place errors become responses.

Domain code raises :class:`DomainError` subclasses (``SlotUnavailable``,
``InvalidTransition`` ...) with a stable machine ``code``; DRF's own exceptions
and Django's 404/permission errors are mapped here too, so every error of the
API has the same shape::

    {"type", "title", "status", "detail", "code", "errors"?}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError, IntegrityError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://slotwise.dev/problems/"
# Seconds a client should wait before retrying after a 503 (a backing service failed).
RETRY_AFTER_SECONDS = 5

# The error responses operations declare in the schema (bodies are problem details).
PROBLEM = OpenApiResponse(description="Problem details (application/problem+json).")
PROBLEM_RESPONSES = {
    400: OpenApiResponse(description="Invalid input (problem details)"),
    403: OpenApiResponse(description="Wrong role (problem details)"),
    404: OpenApiResponse(description="Not found, or not yours (problem details)"),
    409: OpenApiResponse(description="Not in a state that allows this (problem details)"),
    429: OpenApiResponse(description="Too many requests; see Retry-After (problem details)"),
}


class DomainError(Exception):
    """Base of every business-rule error; subclasses set ``status`` and ``code``."""

    status: int = status.HTTP_409_CONFLICT
    code: str = "conflict"
    title: str = "Conflict"
    # Extra response headers, e.g. ``Retry-After`` on a 503 or 429.
    headers: dict[str, str] = {}

    def __init__(self, detail: str | None = None, *, errors: dict | None = None) -> None:
        self.detail = detail or self.title
        self.errors = errors
        super().__init__(self.detail)


class Conflict(DomainError):
    status = status.HTTP_409_CONFLICT
    code = "conflict"
    title = "Conflict"


class NotFound(DomainError):
    status = status.HTTP_404_NOT_FOUND
    code = "not_found"
    title = "Not found"


class InvalidRequest(DomainError):
    """Input that is well-formed but breaks a business rule (not a field-level error)."""

    status = status.HTTP_400_BAD_REQUEST
    code = "invalid_request"
    title = "Invalid request"


class Unprocessable(DomainError):
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "unprocessable"
    title = "Unprocessable request"


class Busy(DomainError):
    """A row lock could not be taken within ``LOCK_TIMEOUT_MS``: someone else is changing
    the same booking or payment right now. Nothing was changed; retrying is safe."""

    status = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "busy"
    title = "The resource is busy; retry shortly"
    headers = {"Retry-After": "1"}


# Database constraint name -> the domain error its violation means (apps register theirs
# in their errors.py, e.g. ``booking_staff_no_overlap`` -> ``staff_busy``). Services catch
# the violations they expect; this is the net for any other writer.
CONSTRAINT_ERRORS: dict[str, type[DomainError]] = {}


def violated_constraint(exc: BaseException) -> str | None:
    """The name of the constraint an IntegrityError reports (PostgreSQL), else None."""
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", None)


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether a database error is PostgreSQL's ``lock_not_available`` (SQLSTATE 55P03)."""
    cause = getattr(exc, "__cause__", None)
    return getattr(cause, "sqlstate", None) == "55P03"


# DRF exception class -> (code, title). Order matters: subclasses first.
_DRF_CODES: list[tuple[type[exceptions.APIException], str, str]] = [
    (exceptions.ParseError, "malformed_request", "Malformed request"),
    (exceptions.ValidationError, "validation_error", "Invalid input"),
    (exceptions.NotAuthenticated, "not_authenticated", "Authentication required"),
    (exceptions.AuthenticationFailed, "authentication_failed", "Authentication failed"),
    (exceptions.PermissionDenied, "permission_denied", "Permission denied"),
    (exceptions.NotFound, "not_found", "Not found"),
    (exceptions.MethodNotAllowed, "method_not_allowed", "Method not allowed"),
    (exceptions.NotAcceptable, "not_acceptable", "Not acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", "Unsupported media type"),
    (exceptions.Throttled, "throttled", "Too many requests"),
]


def problem_body(
    *, status_code: int, code: str, title: str, detail: str, errors: Any = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    *, status_code: int, code: str, title: str, detail: str, errors: Any = None
) -> Response:
    return Response(
        problem_body(status_code=status_code, code=code, title=title, detail=detail, errors=errors),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def problem_json_response(*, status_code: int, code: str, title: str, detail: str) -> JsonResponse:
    """Problem details for plain Django views (404/500 handlers, health, webhooks)."""
    return JsonResponse(
        problem_body(status_code=status_code, code=code, title=title, detail=detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


# Codes of a raised exception that name a concept of their own and are kept as they are
# (a bad or expired bearer token); any other authentication failure is
# ``authentication_failed``.
OWN_CODES = frozenset({"token_not_valid", "token_expired"})


def _detail_and_code(exc: exceptions.APIException, default_code: str) -> tuple[str, str]:
    """The plain sentence and code of a DRF exception.

    simplejwt's errors carry a dict detail (``{"detail", "code", "messages"}``): its
    sentence is used, never the dict's repr.
    """
    detail, codes = exc.detail, exc.get_codes()
    if isinstance(detail, dict):
        text = str(detail.get("detail") or "")
        codes = str(detail.get("code") or "")
    else:
        text = str(detail)
    code = codes if isinstance(codes, str) and codes in OWN_CODES else default_code
    return text or "The request failed.", code


def _unreadable_body_response(exc: Exception) -> Response | None:
    """A body too large (413) or nested too deep to parse (400); None for other errors."""
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status_code=413,
            code="payload_too_large",
            title="Payload too large",
            detail="The request body is too large.",
        )
    if isinstance(exc, RecursionError):
        # json refuses nesting deeper than the interpreter's recursion limit.
        return problem_response(
            status_code=400,
            code="malformed_request",
            title="Malformed request",
            detail="The request body is nested too deeply.",
        )
    return None


def service_unavailable_response() -> Response:
    response = problem_response(
        status_code=503,
        code="service_unavailable",
        title="Service unavailable",
        detail="A backing service failed; try again shortly.",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every error becomes problem details."""
    if isinstance(exc, DatabaseError) and is_lock_timeout(exc):
        exc = Busy()
    if isinstance(exc, IntegrityError) and violated_constraint(exc) in CONSTRAINT_ERRORS:
        exc = CONSTRAINT_ERRORS[violated_constraint(exc)]()
    if isinstance(exc, DomainError):
        set_rollback()
        response = problem_response(
            status_code=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
        )
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code, title = "error", "Error"
        for exc_class, exc_code, exc_title in _DRF_CODES:
            if isinstance(exc, exc_class):
                code, title = exc_code, exc_title
                break
        errors = None
        if isinstance(exc, exceptions.ValidationError):
            errors = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            detail = _first_message(errors)
        else:
            detail, code = _detail_and_code(exc, code)
        response = problem_response(
            status_code=exc.status_code, code=code, title=title, detail=detail, errors=errors
        )
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response["Retry-After"] = str(int(exc.wait))
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        return response

    set_rollback()
    unreadable = _unreadable_body_response(exc)
    if unreadable is not None:
        return unreadable
    if isinstance(exc, IntegrityError):
        # A constraint caught what the service layer did not: report a conflict, not a crash.
        logger.warning("integrity error in %s: %s", context.get("view"), exc)
        return problem_response(
            status_code=409,
            code="conflict",
            title="Conflict",
            detail="The request conflicts with the current state of the resource.",
        )
    if isinstance(exc, DataError):
        # The database refused a value (a NUL character, a number out of its column's
        # range): input the serializers let through, not an outage. No value in the text.
        logger.warning("data error in %s: %s", context.get("view"), type(exc).__name__)
        return problem_response(
            status_code=400,
            code="invalid_input",
            title="Invalid input",
            detail="A value in the request cannot be stored (e.g. a NUL character).",
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error in %s", context.get("view"))
        return service_unavailable_response()
    logger.exception("unhandled error in %s", context.get("view"))
    return problem_response(
        status_code=500,
        code="server_error",
        title="Server error",
        detail="An unexpected error occurred.",
    )
