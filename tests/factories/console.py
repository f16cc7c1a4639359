import factory

from console.support_group import add_to_support_group
from tests.factories.accounts import SupportUserFactory


class SupportStaffFactory(SupportUserFactory):
    """Support staff as they should be: staff, in the Support group, not a superuser."""

    is_superuser = False

    @factory.post_generation
    def _in_support_group(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            add_to_support_group(user=obj)
