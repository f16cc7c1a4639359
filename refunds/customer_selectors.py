"""Read queries of a customer's own refunds and disputes (``refunds.customer_views``)."""

from __future__ import annotations

from django.db.models import QuerySet

from refunds.models import Dispute, Refund


def customer_refunds(*, customer) -> QuerySet[Refund]:
    """The refunds of ``customer``'s bookings, newest first (nobody else's)."""
    return Refund.objects.filter(booking__customer=customer).order_by("-created_at", "-id")


def customer_disputes(*, customer) -> QuerySet[Dispute]:
    """The disputes of ``customer``'s bookings (theirs and the gateway's), newest first."""
    return Dispute.objects.filter(booking__customer=customer).order_by("-created_at", "-id")
