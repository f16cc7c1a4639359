"""The booking's seat UPDATE as one hand-written PostgreSQL statement.

``book_slot`` needs four things before it can insert a booking: the slot exists, has not
started, is not blocked and has room; its partner is active and verified; the variant is
active, of an active service the partner offers, and fits in the slot; and the variant's
price. Asked one by one that is two SELECTs and the UPDATE. Here it is one conditional
``UPDATE ... FROM ... RETURNING``: the seats are taken only when every rule holds (the
same rules as :func:`bookings.services._checked_slot`, which names the refusal when this
takes nothing), and the updated slot row comes back with the variant's price and currency.

The ORM cannot say ``UPDATE ... RETURNING``, hence the SQL (the tables and columns are the
models' defaults; ``tests/bookings/test_book_slot.py`` runs every rule through both paths).
It is PostgreSQL's dialect (``UPDATE ... FROM``, interval arithmetic), so other
databases (the embedded SQLite default) take the portable path in ``book_slot``.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from partners.models import Slot

# The slot columns RETURNING gives back, in the model's field order as Model.from_db wants
# them (the rest of the Slot, created_at, is deferred).
SLOT_FIELDS = ("id", "partner_id", "start", "end", "capacity", "booked", "blocked")

TAKE_BOOKABLE_SEATS = """
    UPDATE partners_slot AS s
       SET booked = s.booked + %(quantity)s
      FROM partners_partner AS p, partners_servicevariant AS v
     WHERE s.id = %(slot_id)s
       AND NOT s.blocked
       AND s.booked <= s.capacity - %(quantity)s
       AND s.start > %(now)s
       AND p.id = s.partner_id AND p.active AND p.verified
       AND v.id = %(variant_id)s AND v.active
       AND v.duration_minutes * interval '1 minute' <= s."end" - s.start
       AND EXISTS (
             SELECT 1
               FROM partners_service AS sv
               JOIN partners_partner_services AS o ON o.service_id = sv.id
              WHERE sv.id = v.service_id AND sv.active AND o.partner_id = s.partner_id)
    RETURNING s.id, s.partner_id, s.start, s."end", s.capacity, s.booked, s.blocked,
              v.price_minor, v.currency
"""


def one_statement_available() -> bool:
    return connection.vendor == "postgresql"


def take_bookable_seats(
    *, slot_id: int, variant_id: int, quantity: int, now: datetime
) -> tuple[Slot, int, str] | None:
    """Take ``quantity`` seats when the slot and variant may be booked (see the module
    doc); returns the slot as updated, the variant's price (minor units) and currency, or
    None when some rule refused (nothing changed). Call inside the booking's transaction.
    """
    params = {"slot_id": slot_id, "variant_id": variant_id, "quantity": quantity, "now": now}
    with connection.cursor() as cursor:
        cursor.execute(TAKE_BOOKABLE_SEATS, params)
        row = cursor.fetchone()
    if row is None:
        return None
    count = len(SLOT_FIELDS)
    slot = Slot.from_db(connection.alias, SLOT_FIELDS, row[:count])
    price_minor, currency = row[count:]
    return slot, price_minor, currency
