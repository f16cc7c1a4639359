"""Read queries of the refunds app."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from refunds.models import Dispute, Refund, RefundPolicy, default_tiers


def active_refund_policy() -> RefundPolicy:
    """The active refund policy.

    The data migration creates the DESIGN.md default as active version 1 and the admin
    never leaves the marketplace without an active policy; should none be active anyway
    (a database loaded without migrations' data), the default is created as the next
    version rather than refunding by an implicit rule.
    """
    policy = RefundPolicy.objects.filter(active=True).first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return RefundPolicy.objects.create(name="Default", active=True, tiers=default_tiers())
    except IntegrityError:  # created concurrently
        return RefundPolicy.objects.get(active=True)


def booking_refunds(*, booking_id: int) -> QuerySet[Refund]:
    return Refund.objects.filter(booking_id=booking_id).select_related("payment")


def failed_refunds() -> QuerySet[Refund]:
    """Refunds that need support's attention (given up after retries or rejected)."""
    return Refund.objects.filter(status=Refund.Status.FAILED).select_related("booking", "payment")


def open_disputes() -> QuerySet[Dispute]:
    return Dispute.objects.filter(status=Dispute.Status.OPEN).select_related("booking")
