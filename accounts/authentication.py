"""JWT bearer authentication whose errors are plain problems.

simplejwt raises ``InvalidToken`` with a dict detail for every failure, expired or not;
here an expired token is its own concept (401 ``token_expired``) and any other bad token
is 401 ``token_not_valid``, each with a plain sentence as ``detail``.
"""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token


class TokenNotValid(exceptions.AuthenticationFailed):
    default_detail = "The token is not valid."
    default_code = "token_not_valid"


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = "The token has expired; obtain a new one."
    default_code = "token_expired"


def token_error(exc: TokenError) -> exceptions.AuthenticationFailed:
    """The API error for a simplejwt ``TokenError`` (expired or otherwise invalid)."""
    return TokenExpired() if isinstance(exc, ExpiredTokenError) else TokenNotValid()


class BearerTokenAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token: bytes) -> Token:
        expired = False
        for token_class in api_settings.AUTH_TOKEN_CLASSES:
            try:
                return token_class(raw_token)
            except ExpiredTokenError:
                expired = True
            except TokenError:
                pass
        raise TokenExpired() if expired else TokenNotValid()


class BearerTokenScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of :class:`BearerTokenAuthentication` (simplejwt's)."""

    target_class = "accounts.authentication.BearerTokenAuthentication"
