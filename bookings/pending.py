"""The count of a customer's unpaid bookings behind the ``MAX_PENDING_BOOKINGS`` cap.

One statement both checks and counts: an upsert of the customer's
:class:`~bookings.models.PendingBookings` row that adds one only while the count is under
the cap. PostgreSQL locks the row for the rest of the transaction whether or not it
updates it, so a customer's concurrent bookings are counted one after the other. The
same SQL runs on SQLite (the embedded default).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F

from bookings.models import Booking, BookingStatus, PendingBookings

TABLE = PendingBookings._meta.db_table

ADD_ONE_UNDER = f"""
    INSERT INTO {TABLE} (customer_id, count) VALUES (%s, 1)
    ON CONFLICT (customer_id) DO UPDATE SET count = {TABLE}.count + 1
    WHERE {TABLE}.count < %s
    RETURNING count
"""  # noqa: S608 - table names from the models; values are parameters


def add_pending(*, customer_id: int, cap: int) -> bool:
    """Count one more unpaid booking of the customer; False (nothing counted) when they
    already hold ``cap``.

    Call inside the booking's transaction. The row is a cache of a count: should it
    read at the cap while fewer unpaid bookings really exist (a booking removed by hand),
    the real count is taken, under the row's lock, and the row put right.
    """
    with connection.cursor() as cursor:
        cursor.execute(ADD_ONE_UNDER, [customer_id, cap])
        if cursor.fetchone() is not None:
            return True
    actual = Booking.objects.filter(
        customer_id=customer_id, status=BookingStatus.PENDING_PAYMENT, counts_as_pending=True
    ).count()
    if actual >= cap:
        return False
    PendingBookings.objects.filter(pk=customer_id).update(count=actual + 1)
    return True


def remove_pending(*, customer_id: int) -> None:
    """One unpaid booking of the customer was paid, expired, failed or cancelled."""
    PendingBookings.objects.filter(pk=customer_id, count__gt=0).update(count=F("count") - 1)
