"""Account operations: registration (and the partner profile that comes with it), the
user's own profile, logout and password change."""

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import token_error
from accounts.errors import EmailTaken, WrongPassword
from accounts.models import Role, User
from partners.models import City, Partner

# The profile fields a user may change about themselves.
PROFILE_FIELDS = ("name", "phone", "city")


@transaction.atomic
def register_user(
    *, email: str, password: str, role: str, name: str = "", city: City | None = None
) -> User:
    """Create a customer or partner login; a partner also gets an (unverified) Partner profile.

    Atomic: the user and the profile are created together or not at all. The email is stored
    lower-cased. Raises ``EmailTaken`` (409) when the email is already registered, also when a
    concurrent registration wins the unique index. Support accounts cannot be created here.
    """
    if role not in (Role.CUSTOMER, Role.PARTNER):
        raise ValueError(f"role {role!r} cannot self-register")
    if role == Role.PARTNER and city is None:
        raise ValueError("a partner needs a city")
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken(f"{email} is already registered.")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, role=role, name=name, city=city
            )
    except IntegrityError as exc:
        raise EmailTaken(f"{email} is already registered.") from exc
    if role == Role.PARTNER:
        Partner.objects.create(user=user, name=name or email, city=city, verified=False)
    return user


@transaction.atomic
def update_profile(*, user_id: int, changes: dict) -> User:
    """Change the user's own ``name``, ``phone`` and/or ``city`` (the keys present).

    One UPDATE of only the given fields, so a concurrent change of another field is kept.
    Other keys are refused with ``ValueError`` (email, role and flags are not the user's
    to change). Returns the user as stored.
    """
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    if changes:
        User.objects.filter(pk=user_id).update(**changes)
    return User.objects.get(pk=user_id)


def log_out(*, refresh: str) -> None:
    """Blacklist the refresh token: it can no longer be exchanged for access tokens.

    Access tokens already issued stay valid until they expire (``JWT_ACCESS_MINUTES``).
    Raises 401 ``token_expired``/``token_not_valid`` for a token that is expired, forged or
    already blacklisted; so a second logout with the same token is refused too.
    """
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise token_error(exc) from None
    token.blacklist()


@transaction.atomic
def change_password(*, user_id: int, old_password: str, new_password: str) -> None:
    """Replace the password after checking the current one.

    The new password must already be validated (``validate_password``). Every refresh
    token issued before is blacklisted (every device logs in again; access tokens work
    until they expire). The change is one conditional UPDATE on the stored hash: a
    concurrent change makes this one fail as a wrong password rather than overwrite it.
    Raises :class:`WrongPassword` (400) and changes nothing when ``old_password`` is wrong.
    """
    user = User.objects.get(pk=user_id)
    if not user.check_password(old_password):
        raise WrongPassword(errors={"old_password": ["The current password is not correct."]})
    changed = User.objects.filter(pk=user_id, password=user.password).update(
        password=make_password(new_password)
    )
    if not changed:
        raise WrongPassword(errors={"old_password": ["The password was changed meanwhile."]})
    outstanding = OutstandingToken.objects.filter(user_id=user_id, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
