"""Row locks: one global order, only inside a transaction, a bounded wait.

Every ``SELECT ... FOR UPDATE`` of the project goes through :func:`lock`. It

* refuses to run outside a transaction (:class:`LockOutsideTransaction`): a lock taken
  in autocommit mode is released at once and protects nothing;
* bounds the wait: the first lock of a transaction sets ``lock_timeout`` for the rest
  of it (``LOCK_TIMEOUT_MS``), so contention becomes :class:`~common.problems.Busy`
  (503 ``busy`` with ``Retry-After``) instead of a request hanging on a stuck
  transaction; conditional UPDATEs later in the same transaction are bounded too;
* enforces one global order, :data:`LOCK_ORDER`: within a transaction, rows of a model
  are never locked after rows of a model that comes later in the list
  (:class:`LockOrderViolation`, a programming error). Two transactions that lock the
  same rows therefore always queue in the same order and cannot deadlock.

The order is by model label so this module imports no app above ``common``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.models import Model, QuerySet

from common.problems import Busy, is_lock_timeout

# Outermost first. A webhook's ledger row is held while its outcome is applied; a partner
# while its slots are created; a payment is locked before its booking (capture, cancel,
# refund, dispute all agree), a booking before the staff member assigned to it, its slot,
# its waitlist entries and its codes; the refund policies last (a cancellation may create
# the default policy).
LOCK_ORDER: tuple[str, ...] = (
    "payments.webhookevent",
    "partners.partner",
    "payments.payment",
    "bookings.booking",
    "partners.staff",
    "partners.slot",
    "bookings.waitlistentry",
    "otp.bookingotp",
    "refunds.refundpolicy",
)


class LockOutsideTransaction(RuntimeError):
    """``lock()`` was called in autocommit mode."""


class LockOrderViolation(RuntimeError):
    """A transaction tried to lock rows against :data:`LOCK_ORDER`."""


def _new_marker() -> Callable[[], None]:
    """A fresh no-op registered with ``on_commit``: while it is pending, the transaction
    that registered it is still running."""

    def locks_of_this_transaction() -> None:
        return None

    return locks_of_this_transaction


@dataclass
class _TransactionLocks:
    """What one transaction has locked so far (kept on the connection)."""

    anchor: tuple[str, ...]
    highest: int = -1
    labels: list[str] = field(default_factory=list)
    marker: Callable[[], None] = field(default_factory=_new_marker)


def _rank(model: type[Model]) -> int:
    label = model._meta.label_lower
    try:
        return LOCK_ORDER.index(label)
    except ValueError:
        raise LockOrderViolation(f"{label} has no place in common.locking.LOCK_ORDER") from None


def _current(connection) -> _TransactionLocks | None:
    """The lock record of the running transaction, or None when it has taken no lock yet.

    A record belongs to the transaction that registered it with ``on_commit`` (Django drops
    the callbacks at commit or rollback) and to the savepoint it was taken under, so a new
    transaction, or a new top-level service call inside a test's transaction, starts
    afresh."""
    record = getattr(connection, "_slotwise_locks", None)
    if record is None:
        return None
    pending = any(callback is record.marker for _sids, callback, *_ in connection.run_on_commit)
    if not pending or tuple(connection.savepoint_ids[: len(record.anchor)]) != record.anchor:
        return None
    return record


def lock[M: Model](
    queryset: QuerySet[M], *, of: tuple[str, ...] = ("self",), skip_locked: bool = False
) -> QuerySet[M]:
    """Return ``queryset`` locked ``FOR UPDATE``, checking the
    transaction, the global order and bounding the wait (see the module docstring).

    ``skip_locked`` passes over rows another transaction holds instead of waiting.
    The lock is taken when the queryset is evaluated (``.get()``, ``.first()``,
    ``.values_list()``...). A wait longer than ``LOCK_TIMEOUT_MS`` raises
    :class:`~common.problems.Busy` through :func:`waiting`, or becomes 503 ``busy`` in the
    API's exception handler.
    """
    alias = router.db_for_write(queryset.model)
    connection = connections[alias]
    if not connection.in_atomic_block:
        raise LockOutsideTransaction(
            f"lock({queryset.model._meta.label}) outside a transaction protects nothing"
        )
    rank = _rank(queryset.model)
    record = _current(connection)
    if record is None:
        record = _TransactionLocks(anchor=tuple(connection.savepoint_ids))
        connection._slotwise_locks = record
        transaction.on_commit(record.marker, using=alias)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # set_config(..., true) is SET LOCAL: it ends with the transaction.
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, true)",
                    [f"{int(settings.LOCK_TIMEOUT_MS)}ms"],
                )
    label = queryset.model._meta.label_lower
    # Locking again rows of a model already locked here is fine (same or more rows of it).
    if rank < record.highest and label not in record.labels:
        raise LockOrderViolation(
            f"{label} locked after {record.labels[-1]}: the order is {' < '.join(LOCK_ORDER)}"
        )
    record.highest = max(record.highest, rank)
    record.labels.append(label)
    return queryset.select_for_update(of=of, skip_locked=skip_locked)


class waiting:  # noqa: N801 - used as a context manager, reads as prose
    """Turn a lock timeout inside the block into :class:`~common.problems.Busy`.

    For callers outside the API's exception handler (Celery tasks, admin actions)::

        with locking.waiting():
            cancel_booking(...)
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, DatabaseError) and is_lock_timeout(exc):
            raise Busy() from exc
        return False
