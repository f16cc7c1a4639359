"""Read queries of the refunds app."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from refunds.models import Refund, RefundPolicy, default_tiers

# A refund the gateway accepted as pending is left to its refund webhook (it is never
# sent again); one still waiting after this long probably lost its webhook.
AWAITING_GATEWAY_TOO_LONG = timedelta(days=1)
# As refunds.services.IN_FLIGHT_STATUSES (services import this module: no loop).
_IN_FLIGHT = (Refund.Status.PENDING, Refund.Status.PROCESSING)


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


def needs_attention() -> Q:
    """Refunds support must look at: FAILED ones, in-flight ones whose last attempt reported
    an error, and ones the gateway accepted that still wait for its outcome after
    ``AWAITING_GATEWAY_TOO_LONG``. The admin's filter and the console's figures use it."""
    in_flight = Q(status__in=_IN_FLIGHT)
    waited_too_long = (
        in_flight
        & ~Q(gateway_refund_id="")
        & Q(updated_at__lt=timezone.now() - AWAITING_GATEWAY_TOO_LONG)
    )
    return Q(status=Refund.Status.FAILED) | (in_flight & ~Q(last_error="")) | waited_too_long
