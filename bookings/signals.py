from django.dispatch import Signal

# Sent by bookings.transitions.transition_booking inside the transaction that changed the
# status, with kwargs: booking (refreshed), from_status, to_status, actor, reason.
# Receivers that write rows (outbox messages, OTPs) therefore commit or roll back with it;
# receivers must not do network I/O (use the outbox / transaction.on_commit for that).
booking_status_changed = Signal()

# Sent by bookings.services.book_slot inside the transaction that created the booking, with
# kwargs: booking. Higher layers snapshot what the booking was made under (refunds: the
# refund terms in force); receivers write rows in that transaction, no network I/O.
booking_created = Signal()

# Sent by bookings.transitions.move_booking inside the transaction that moved a booking to
# another slot without changing its status (a reschedule or a reassignment), with kwargs:
# booking (refreshed, on its new slot), kind ("rescheduled" | "reassigned"), from_slot
# (the slot it left, whose seats are free again), from_partner_id, actor, reason. The same
# rules as booking_status_changed: receivers write rows, no network I/O.
booking_moved = Signal()
