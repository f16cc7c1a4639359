"""Refund and dispute operations, split by concept:

- :mod:`~refunds.services.creation`: the captured-amount ceiling, recording refunds
  (cancellation, late capture, manual, dispute) and support retries;
- :mod:`~refunds.services.execution`: the steps of ``refunds.tasks.execute_refund``
  and the reconciliation of gateway refund events;
- :mod:`~refunds.services.disputes`: customer and gateway disputes, their resolution.

Money rule for every source: the non-failed refunds of a payment never add up to more
than its captured amount (checked under a row lock on the payment). Refunds are
recorded inside the caller's transaction and executed by Celery after commit; gateway
HTTP never runs while a row lock is held.
"""

from refunds.services.creation import (
    COUNTED_STATUSES,
    IN_FLIGHT_STATUSES,
    create_refund,
    refund_booking_manually,
    refundable_amount,
    refunded_total,
    retry_refund,
)
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
    reconcile_gateway_refund,
    reconcile_refunded_total,
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
