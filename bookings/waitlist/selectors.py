"""Read queries of the waitlist."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from bookings.models import WaitlistEntry, WaitlistStatus


def with_position(queryset: QuerySet[WaitlistEntry]) -> QuerySet[WaitlistEntry]:
    """Annotate ``position``: 1 for the first waiting entry of its slot, None unless waiting.

    A correlated count over the partial index ``waitlist_queue_idx`` (slot, id).
    """
    ahead = (
        WaitlistEntry.objects.filter(
            slot_id=OuterRef("slot_id"), status=WaitlistStatus.WAITING, id__lt=OuterRef("id")
        )
        .order_by()
        .values("slot_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        position=Case(
            When(
                status=WaitlistStatus.WAITING,
                then=Coalesce(Subquery(ahead, output_field=IntegerField()), Value(0)) + 1,
            ),
            default=None,
            output_field=IntegerField(),
        )
    )


def customer_waitlist(*, customer) -> QuerySet[WaitlistEntry]:
    """The customer's entries, newest first, with slot and position."""
    return with_position(
        WaitlistEntry.objects.filter(customer=customer).select_related("slot")
    ).order_by("-id")
