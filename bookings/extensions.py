"""How higher layers extend the booking's representation without bookings importing them.

Payments registers the ``payment`` field (and the ``payment`` relation the booking
selectors then fetch in the same query) from ``PaymentsConfig.ready``; every endpoint that
returns a booking, in any app, then renders it the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from rest_framework import serializers

# name -> factory of a read-only serializer field
extra_fields: dict[str, Callable[[], serializers.Field]] = {}
# relations of Booking the selectors join (select_related) for those fields
extra_related: list[str] = []


def register_booking_field(
    name: str, factory: Callable[[], serializers.Field], *, select_related: str = ""
) -> None:
    """Add a read-only field to the booking serializers (call from an app's ``ready``)."""
    extra_fields[name] = factory
    if select_related and select_related not in extra_related:
        extra_related.append(select_related)
