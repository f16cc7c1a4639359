"""Refund and dispute domain errors, each with its stable problem ``code``."""

from common.problems import Conflict, InvalidRequest, NotFound


class RefundExceedsCaptured(Conflict):
    code = "refund_exceeds_captured"
    title = "The refund would exceed the captured amount"


class NothingCaptured(Conflict):
    code = "nothing_captured"
    title = "The booking has no captured payment to refund"


class InvalidRefundAmount(InvalidRequest):
    code = "invalid_refund_amount"
    title = "The refund amount is not valid"


class RefundNotRetryable(Conflict):
    code = "refund_not_retryable"
    title = "Only a failed refund can be retried"


class RefundNotFound(NotFound):
    code = "refund_not_found"
    title = "No such refund"


class NoActiveRefundPolicy(Conflict):
    code = "no_active_refund_policy"
    title = "No refund policy is active"


class DisputeNotAllowed(Conflict):
    code = "dispute_not_allowed"
    title = "Only completed or cancelled bookings can be disputed"


class DisputeAlreadyOpen(Conflict):
    code = "dispute_already_open"
    title = "The booking already has an open dispute"


class DisputeNotOpen(Conflict):
    code = "dispute_not_open"
    title = "The dispute is no longer open"


class DisputeNotFound(NotFound):
    code = "dispute_not_found"
    title = "No such dispute"
