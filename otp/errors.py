"""One-time code errors, each with its stable problem ``code``."""

from rest_framework import status

from common.problems import Conflict, DomainError, InvalidRequest


class OtpInvalid(InvalidRequest):
    code = "otp_invalid"
    title = "The code is not valid"


class OtpExpired(InvalidRequest):
    code = "otp_expired"
    title = "The code has expired; request a new one"


class OtpLocked(InvalidRequest):
    code = "otp_locked"
    title = "Too many wrong attempts; request a new code"


class OtpNotIssued(InvalidRequest):
    code = "otp_not_issued"
    title = "No code is active for this step; request a new one"


class OtpRateLimited(DomainError):
    status = status.HTTP_429_TOO_MANY_REQUESTS
    code = "otp_rate_limited"
    title = "Too many codes requested; try again later"


class OtpNoRecipient(Conflict):
    code = "otp_no_recipient"
    title = "Nobody with an email address or phone number can receive the code"


class OtpNotNeeded(Exception):
    """Internal: the booking is not at the step this code is for (nothing to issue)."""


class ArrivalTooEarly(Conflict):
    code = "arrival_too_early"
    title = "Arrival can be confirmed only from shortly before the slot starts"


class ArrivalWindowPassed(Conflict):
    code = "arrival_window_passed"
    title = "The slot has ended; its arrival can no longer be confirmed"
