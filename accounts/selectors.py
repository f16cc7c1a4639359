from accounts.models import User


def user_with_profile(*, user_id: int) -> User:
    """The user with its partner profile (if any) loaded in the same query."""
    return User.objects.select_related("partner", "partner__city", "city").get(pk=user_id)
