from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class ConsoleConfig(AppConfig):
    """The operators' console: the admin dashboard, the support status and the Support group.

    It sits above every domain app because it reads all of them and owns none of their state.
    """

    name = "console"
    verbose_name = "Operators' console"
    default = True

    def ready(self) -> None:
        # After every migrate (and test database flush). The permissions of the apps listed
        # before the console exist by then: Django creates them app by app, in that order.
        from console.support_group import sync_after_migrate

        post_migrate.connect(sync_after_migrate, sender=self)


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the console's site: the same admin, whose index page is
    the operators' dashboard."""

    default = False  # named in INSTALLED_APPS in place of django.contrib.admin
    default_site = "console.sites.ConsoleAdminSite"
