from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand

from partners import demo_data


class Command(BaseCommand):
    help = (
        "Load the demo catalog and logins (idempotent). Refuses outside the embedded default "
        "unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even when DATABASE_URL is set (demo logins share a public password).",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.EMBEDDED and not force:
            self.stderr.write(
                "Not loading demo data: DATABASE_URL is set (production mode). "
                "Use --force to load it anyway."
            )
            return
        demo_data.load_demo_data(stdout=self.stdout)
        for app_config in apps.get_app_configs():
            module_name = f"{app_config.name}.demo_data"
            if app_config.name == "partners":
                continue
            if find_spec(module_name) is None:
                continue
            import_module(module_name).load_demo_data(stdout=self.stdout)
        self.print_credentials()

    def print_credentials(self) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded. Logins (password '{demo_data.DEMO_PASSWORD}'):")
        )
        for email, what in [
            (demo_data.CUSTOMER_EMAIL, "customer"),
            (demo_data.PARTNER_EMAIL, "partner (Sparkle Home Services, Bengaluru)"),
            (demo_data.SUPPORT_EMAIL, "support staff: the admin at /admin/"),
        ]:
            self.stdout.write(f"  {email:<24} {what}")
