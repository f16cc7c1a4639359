"""Absolute links to this site (checkout pages, payment returns, links in messages).

``PUBLIC_BASE_URL`` wins when it is set (production: the name customers use, whatever
reached the server). Unset (``make run``, a quick demo), a link is built from the
request being served, so it names the host and port the client actually used: a server
started on another port, or restarted on one, hands out links that work. The request's
host is the ``Host`` header, which Django's ``get_host()`` accepts only when it matches
``ALLOWED_HOSTS`` (a request with another one was already refused with a 400 by
``CommonMiddleware``), so a forged header cannot plant a foreign link. Work done outside
any request (Celery, the beat jobs) falls back to ``http://127.0.0.1:<PORT>``, the
address ``make run`` serves.

The request is kept in a context variable for the duration of the request
(:class:`RequestLinksMiddleware`), as Django keeps the script prefix, because links are
rendered deep below the view (kept serializers, outbox messages written on commit).
"""

from __future__ import annotations

from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest

_current_request: ContextVar[HttpRequest | None] = ContextVar("link_request", default=None)


class RequestLinksMiddleware:
    """Makes the request being served the base of :func:`public_url` while it runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def base_url() -> str:
    """``scheme://host[:port]`` of links: ``PUBLIC_BASE_URL``, else the current request's,
    else ``http://127.0.0.1:<PORT>`` (see the module docstring)."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/")
    request = _current_request.get()
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return f"http://127.0.0.1:{settings.RUN_PORT}"


def public_url(path: str) -> str:
    """The absolute URL of ``path`` (which starts with ``/``) on this site."""
    return base_url() + path
