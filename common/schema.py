"""OpenAPI post-processing: declare what the API really answers and the bounds it enforces.

drf-spectacular documents each view's own responses; the errors every view shares come
from one place (authentication, permissions, lookups, idempotency keys, throttles) and are
declared here, all as problem details, so the schema and the fuzzer (tests/fuzz) agree
with the API.
"""

from __future__ import annotations

import re
from typing import Any

from common.idempotency import HEADER as IDEMPOTENCY_HEADER
from common.idempotency import MAX_KEY_LENGTH

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {},
    },
}
# 1..255 printable ASCII without surrounding spaces (they are stripped before the check).
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
    "pattern": r"^[!-~]([ -~]*[!-~])?$",
}
DESCRIPTIONS = {
    "400": "Invalid input (validation_error, malformed_request, ...).",
    "401": "Missing, invalid (token_not_valid) or expired (token_expired) bearer token.",
    "403": "Authenticated, but not allowed (permission_denied).",
    "404": "No such object, or not yours.",
    "409": "Conflicts with the current state, or the Idempotency-Key is in use.",
    "422": "Idempotency-Key reused with a different request.",
    "429": "Rate limited (throttled); see Retry-After.",
}


def _throttled(callback, method: str) -> bool:
    view = getattr(callback, "cls", None)
    if view is None or not getattr(view, "throttle_scope", None):
        return False
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset throttles only its create (BookingViewSet.get_throttles)
        return actions.get(method.lower()) == "create"
    return True


def _shape(path: str) -> str:
    """The path with its parameter names erased (``{pk}`` in URLconfs, ``{id}`` in the
    schema)."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _add(responses: dict, code: str) -> None:
    responses.setdefault(code, {"description": DESCRIPTIONS[code]})


def declare_shared_responses(result, generator, request, public):
    """``POSTPROCESSING_HOOKS`` entry: shared error responses, problem bodies, bounds."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    callbacks = {
        (_shape(path), method.lower()): callback
        for path, _regex, method, callback in generator.endpoints
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            security = operation.get("security")
            if bool(security) and any(entry for entry in security):
                _add(responses, "401")
                _add(responses, "403")
            elif path.startswith("/api/"):  # the token endpoints: wrong credentials
                _add(responses, "401")
            if operation.get("parameters") or operation.get("requestBody"):
                _add(responses, "400")
            names = {parameter.get("name") for parameter in operation.get("parameters", [])}
            if "{" in path or "page" in names:  # a page past the last one is a 404
                _add(responses, "404")
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter["name"] == IDEMPOTENCY_HEADER:
                    parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)
                    _add(responses, "409")
                    _add(responses, "422")
            if _throttled(callbacks.get((_shape(path), method)), method):
                _add(responses, "429")
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {"application/problem+json": {"schema": PROBLEM_REF}}
    return result
