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
