"""Account errors, each with its stable problem ``code``."""

from common.problems import Conflict


class EmailTaken(Conflict):
    code = "email_taken"
    title = "An account with this email already exists"
