"""Read replicas: catalog and slot-listing reads of public GET endpoints go to ``replica``.

Off unless ``DATABASE_REPLICA_URL`` is set (then settings define the ``replica`` alias and
install :class:`ReplicaRouter`). Only reads that tolerate replication lag are sent there:
the views named in ``REPLICA_READ_VIEWS`` (services, cities, partner listings, a partner's
slots), for GET/HEAD, and only models of the catalog apps in ``REPLICA_READ_APPS``.
Everything else, writes, every read inside a booking or payment flow, the user lookup of
authentication, reads the primary, so no service ever decides on a stale row. A slot
listing may show a seat that was taken a moment ago; booking it is a conditional UPDATE on
the primary and answers 409, as it would for a seat taken a moment after the listing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections

REPLICA = "replica"
# URL names whose GET/HEAD reads may come from the replica.
REPLICA_READ_VIEWS = frozenset(
    {"service-list", "city-list", "partner-list", "partner-detail", "partner-slots"}
)
REPLICA_READ_APPS = frozenset({"partners"})

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Let catalog reads in this block (thread / task) go to the replica, if there is one."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class ReplicaRouter:
    """Catalog reads inside :func:`replica_reads` to ``replica``; all else to ``default``."""

    def db_for_read(self, model, **hints):
        if (
            _replica_reads.get()
            and model._meta.app_label in REPLICA_READ_APPS
            and REPLICA in connections.settings
        ):
            return REPLICA
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReplicaReadsMiddleware:
    """Public catalog views (``REPLICA_READ_VIEWS``, GET/HEAD) read the catalog from the
    replica, for the whole request (view, rendering and all)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            token = getattr(request, "_replica_reads_token", None)
            if token is not None:
                _replica_reads.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if (
            request.method in ("GET", "HEAD")
            and match is not None
            and match.url_name in REPLICA_READ_VIEWS
        ):
            request._replica_reads_token = _replica_reads.set(True)
        return None
