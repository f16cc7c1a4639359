"""Events payments sends to the layers above it (refunds subscribes).

Sent inside the transaction that applies a gateway outcome, with the payment row locked,
so a receiver's writes commit or roll back with it. Receivers must not do network I/O.
"""

from django.dispatch import Signal

# A capture arrived for a booking that can no longer be confirmed (cancelled, or its
# seats went to someone else): the money goes back in full. kwargs: payment, booking,
# reason. Without a receiver the payment is flagged for support instead.
capture_needs_refund = Signal()
