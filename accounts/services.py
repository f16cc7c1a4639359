"""Account operations: registration (and the partner profile that comes with it)."""

from django.db import IntegrityError, transaction

from accounts.errors import EmailTaken
from accounts.models import Role, User
from partners.models import City, Partner


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
            user = User.objects.create_user(email=email, password=password, role=role, name=name)
    except IntegrityError as exc:
        raise EmailTaken(f"{email} is already registered.") from exc
    if role == Role.PARTNER:
        Partner.objects.create(user=user, name=name or email, city=city, verified=False)
    return user
