from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operators' console: the admin dashboard, the support status and the Support group.

    It sits above every domain app because it reads all of them and owns none of their state.
    """

    name = "console"
    verbose_name = "Operators' console"
