from django.dispatch import Signal

# Sent by bookings.transitions.transition_booking inside the transaction that changed the
# status, with kwargs: booking (refreshed), from_status, to_status, actor, reason.
# Receivers that write rows (outbox messages, OTPs) therefore commit or roll back with it;
# receivers must not do network I/O (use the outbox / transaction.on_commit for that).
booking_status_changed = Signal()
