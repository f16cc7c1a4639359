"""The request id: one id per request, carried into its Celery tasks and outbound calls.

Every log line carries it (:class:`RequestIdFilter`), so one booking's story can be
followed across the web process, the worker and the partner's endpoint:

* web: :class:`RequestIdMiddleware` takes a well-formed incoming ``X-Request-ID`` (a
  proxy's or a gateway's) or makes one, and answers with it in ``X-Request-ID``;
* Celery: the id of the code that enqueues a task travels in the task message's headers
  (``request_id``) and is the task's id while it runs (:func:`connect_celery_signals`); a
  task enqueued by nothing that had one (beat) gets a fresh id;
* outbound HTTP: callers send :func:`current_request_id` as ``X-Request-ID``.

It lives in a context variable, so threads (gunicorn's gthread workers) and eager tasks
each see their own, and it sits in ``common`` because every app below the top needs it.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from celery import signals
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# Where Django puts the incoming header, and the name of the Celery message header.
META_KEY = "HTTP_X_REQUEST_ID"
TASK_HEADER = "request_id"

# An id we accept from outside: what proxies and tracers send (UUIDs, hex, base64url,
# dotted), bounded, and nothing that could break a log line or a header.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)

logger = logging.getLogger(__name__)


def current_request_id() -> str | None:
    """The id of the request or task running in this context, None outside both."""
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str | None:
    """``value`` if it is a well-formed id to adopt, else None."""
    if value and WELL_FORMED.fullmatch(value):
        return value
    return None


@contextmanager
def bound_request_id(request_id: str) -> Iterator[str]:
    """Run the block with ``request_id`` as the current id, then restore the previous one."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


class RequestIdMiddleware:
    """First middleware: every request, its log lines and its answer get an id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accepted_request_id(request.META.get(META_KEY)) or new_request_id()
        request.request_id = request_id
        with bound_request_id(request_id):
            response = self.get_response(request)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True


# --- Celery -----------------------------------------------------------------------------------
# Tokens of the ids set by task_prerun, by task id (a stack, should a task run inside a
# run of the same id): reset in task_postrun, so a worker process never carries one
# task's id into the next.
_task_tokens: dict[str, list] = {}


def _add_id_to_task_headers(headers: dict | None = None, **_kwargs) -> None:
    request_id = _current.get()
    if headers is not None and request_id and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


def _task_request_id(task) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    # A worker puts custom message headers on the request; an eager apply(headers=...)
    # keeps them in request.headers.
    value = getattr(request, TASK_HEADER, None) or (request.headers or {}).get(TASK_HEADER)
    return accepted_request_id(value) if isinstance(value, str) else None


def _bind_task_id(task_id: str | None = None, task=None, **_kwargs) -> None:
    # An eager task runs inside its caller and keeps the caller's id.
    request_id = _task_request_id(task) or _current.get() or new_request_id()
    request = getattr(task, "request", None)
    if request is not None:
        # A retry is built from this request's headers: it keeps the id, eager or not.
        request.headers = {**(request.headers or {}), TASK_HEADER: request_id}
    _task_tokens.setdefault(task_id or "", []).append(_current.set(request_id))
    logger.info("task started: %s", getattr(task, "name", "?"), extra={"task_id": task_id})


def _unbind_task_id(task_id: str | None = None, task=None, state: str | None = None, **_kw):
    logger.info(
        "task finished: %s %s",
        getattr(task, "name", "?"),
        state or "",
        extra={"task_id": task_id, "task_state": state},
    )
    tokens = _task_tokens.get(task_id or "")
    if tokens:
        token = tokens.pop()
        if not tokens:
            del _task_tokens[task_id or ""]
        try:
            _current.reset(token)
        except ValueError:  # set in another context (a pool that switched threads)
            _current.set(None)


def connect_celery_signals() -> None:
    """Make the id travel with every task published from this process and bind it in the
    tasks this process runs (called once, from ``CommonConfig.ready``)."""
    signals.before_task_publish.connect(_add_id_to_task_headers, weak=False)
    signals.task_prerun.connect(_bind_task_id, weak=False)
    signals.task_postrun.connect(_unbind_task_id, weak=False)
