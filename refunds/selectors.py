"""Read queries of the refunds app."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from refunds.models import Refund, RefundPolicy, default_tiers


def active_refund_policy() -> RefundPolicy:
    """The active refund policy.

    The data migration creates the default tiers (docs/architecture.md) as active version 1
    and the admin never leaves the marketplace without an active policy; should none be
    active anyway (a database loaded without migrations' data), the default is created as
    the next version rather than refunding by an implicit rule.
    """
    policy = RefundPolicy.objects.filter(active=True).first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return RefundPolicy.objects.create(name="Default", active=True, tiers=default_tiers())
    except IntegrityError:  # created concurrently
        return RefundPolicy.objects.get(active=True)


def support_refunds(*, status: str | None = None, source: str | None = None) -> QuerySet[Refund]:
    """Refunds for the support list, newest first; ``status="failed"`` needs attention."""
    queryset = Refund.objects.select_related("payment")
    if status:
        queryset = queryset.filter(status=status)
    if source:
        queryset = queryset.filter(source=source)
    return queryset
