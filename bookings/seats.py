"""The booking's seat UPDATE as one hand-written PostgreSQL statement.

``book_slot`` needs four things before it can insert a booking: the slot exists, has not
started, is not blocked and has room; its partner is active and verified; the variant is
active, of an active service, offered by the partner (an active ``PartnerOffering``),
and fits in the slot; and the partner's price of it. Asked one by one that is two
SELECTs and the UPDATE. Here it is one conditional ``UPDATE ... FROM ... RETURNING``:
the seats are taken only when every rule holds (the same rules as
:func:`bookings.services._checked_slot`, which names the refusal when this takes
nothing), and the updated slot row comes back with the partner's price and currency.

The ORM cannot say ``UPDATE ... RETURNING``, hence the SQL (the tables and columns are the
models' defaults; ``tests/bookings/test_book_slot.py`` runs every rule through both paths).
The seat type's inventory is a second row (``partners_slotseattype``), updated by the
same statement: the slot's UPDATE is a data-modifying CTE and the seat type's UPDATE
joins it, so the seat take stays one round trip.

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
    WITH taken AS (
        UPDATE partners_slot AS s
           SET booked = s.booked + %(quantity)s
          FROM partners_partner AS p, partners_servicevariant AS v, partners_service AS sv,
               partners_partneroffering AS o
         WHERE s.id = %(slot_id)s
           AND NOT s.blocked
           AND s.booked <= s.capacity - %(quantity)s
           AND s.start > %(now)s
           AND p.id = s.partner_id AND p.active AND p.verified
           AND v.id = %(variant_id)s AND v.active
           AND v.duration_minutes * interval '1 minute' <= s."end" - s.start
           AND sv.id = v.service_id AND sv.active
           AND o.partner_id = s.partner_id AND o.variant_id = v.id AND o.active
        RETURNING s.id, s.partner_id, s.start, s."end", s.capacity, s.booked, s.blocked,
                  o.price_minor, o.currency
    )
    -- The seat type's seats, after the slot's (the order of every seat writer). No room
    -- of that type: no row, and book_slot's refusal rolls the slot's seats back.
    UPDATE partners_slotseattype AS t
       SET booked = t.booked + %(quantity)s
      FROM taken
     WHERE t.slot_id = taken.id
       AND t.booked <= t.capacity - %(quantity)s
       AND (t.code = %(seat_type)s
            OR (%(seat_type)s IS NULL
                AND (t.code = 'standard'
                     OR NOT EXISTS (SELECT 1 FROM partners_slotseattype AS x
                                     WHERE x.slot_id = t.slot_id AND x.id <> t.id))))
    RETURNING taken.id, taken.partner_id, taken.start, taken."end", taken.capacity,
              taken.booked, taken.blocked, coalesce(t.price_minor, taken.price_minor),
              taken.currency, t.code
"""


def one_statement_available() -> bool:
    return connection.vendor == "postgresql"


def take_bookable_seats(
    *, slot_id: int, variant_id: int, quantity: int, now: datetime, seat_type: str | None = None
) -> tuple[Slot, int, str, str] | None:
    """Take ``quantity`` seats of ``seat_type`` (None: ``standard``, or the slot's only
    type) when the slot and variant may be booked (see the module doc); returns the slot
    as updated, the price per seat (the seat type's own, else the partner's offering), its
    currency and the seat type's code, or None when some rule refused. Call inside the
    booking's transaction, and roll it back on None: the slot's seats may have been taken
    while the seat type had no room.
    """
    params = {
        "slot_id": slot_id,
        "variant_id": variant_id,
        "quantity": quantity,
        "now": now,
        "seat_type": seat_type,
    }
    with connection.cursor() as cursor:
        cursor.execute(TAKE_BOOKABLE_SEATS, params)
        row = cursor.fetchone()
    if row is None:
        return None
    count = len(SLOT_FIELDS)
    slot = Slot.from_db(connection.alias, SLOT_FIELDS, row[:count])
    price_minor, currency, code = row[count:]
    return slot, price_minor, currency, code
