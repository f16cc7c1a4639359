"""Notification errors: the dispatcher's outcomes and the partner-webhook URL problem."""

from common.problems import InvalidRequest


class SkipMessage(Exception):
    """The message no longer makes sense (e.g. a code for a booking that moved on)."""


class PermanentFailure(Exception):
    """Retrying cannot help (e.g. a partner webhook answered 4xx): FAILED at once.

    Its text goes to ``last_error``, so it must not quote the message or a secret.
    """


class InvalidWebhookUrl(InvalidRequest):
    code = "invalid_webhook_url"
    title = "Invalid webhook URL"
