"""Payment domain errors, each with its stable problem ``code``."""

from common.problems import Conflict, DomainError, InvalidRequest, NotFound


class InvalidSignatureProblem(InvalidRequest):
    code = "invalid_signature"
    title = "The signature does not match"


class GatewayDisabled(InvalidRequest):
    code = "gateway_disabled"
    title = "This payment gateway is not enabled"


class WrongGateway(Conflict):
    code = "wrong_gateway"
    title = "The booking is not paid through this gateway"


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "The booking has no payment"


class PaymentGatewayUnavailable(DomainError):
    status = 503
    code = "payment_gateway_unavailable"
    title = "The payment gateway could not be reached"
