"""Account errors, each with its stable problem ``code``."""

from common.problems import Conflict, InvalidRequest


class EmailTaken(Conflict):
    code = "email_taken"
    title = "An account with this email already exists"


class WrongPassword(InvalidRequest):
    code = "wrong_password"
    title = "The current password is not correct"
