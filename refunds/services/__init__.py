"""Refund and dispute operations, split by concept:

- :mod:`~refunds.services.ledger`: what a payment's refunds add up to (the captured
  ceiling), the payment lock, the payment status that follows succeeded refunds;
- :mod:`~refunds.services.creation`: recording refunds (cancellation, late capture,
  manual, dispute) and support retries;
- :mod:`~refunds.services.execution`: the Celery task that sends a refund to its gateway,
  and its steps;
- :mod:`~refunds.services.gateway_events`: gateway refund and dispute events (handlers of
  the payments webhook pipeline);
- :mod:`~refunds.services.disputes`: customer and gateway disputes, their resolution.

Money rule for every source: the non-failed refunds of a payment never add up to more
than its captured amount (checked under a row lock on the payment). Refunds are
recorded inside the caller's transaction and executed by Celery after commit; gateway
HTTP never runs while a row lock is held.
"""

from refunds.services.creation import create_refund, refund_booking_manually, retry_refund
from refunds.services.disputes import (
    DISPUTABLE_STATUSES,
    open_dispute,
    record_gateway_dispute,
    reject_dispute,
    resolve_dispute_with_refund,
)
from refunds.services.execution import (
    claim_refund_attempt,
    mark_refund_awaiting_gateway,
    mark_refund_failed,
    mark_refund_succeeded,
    note_refund_error,
)
from refunds.services.gateway_events import reconcile_gateway_refund, reconcile_refunded_total
from refunds.services.ledger import (
    COUNTED_STATUSES,
    IN_FLIGHT_STATUSES,
    refundable_amount,
    refunded_total,
)

__all__ = [
    "COUNTED_STATUSES",
    "DISPUTABLE_STATUSES",
    "IN_FLIGHT_STATUSES",
    "claim_refund_attempt",
    "create_refund",
    "mark_refund_awaiting_gateway",
    "mark_refund_failed",
    "mark_refund_succeeded",
    "note_refund_error",
    "open_dispute",
    "reconcile_gateway_refund",
    "reconcile_refunded_total",
    "record_gateway_dispute",
    "refund_booking_manually",
    "refundable_amount",
    "refunded_total",
    "reject_dispute",
    "resolve_dispute_with_refund",
    "retry_refund",
]
