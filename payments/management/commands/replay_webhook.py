from django.core.management.base import BaseCommand, CommandError

from payments.models import WebhookEvent
from payments.webhooks import replay_webhook_event


class Command(BaseCommand):
    help = (
        "Re-process a stored webhook event by its ledger id. Idempotent: effects are "
        "conditional, so replaying an applied event changes nothing but its outcome."
    )

    def add_arguments(self, parser):
        parser.add_argument("ledger_id", type=int, help="WebhookEvent id (see the admin).")

    def handle(self, *args, ledger_id: int, **options):
        try:
            event = replay_webhook_event(event_id=ledger_id)
        except WebhookEvent.DoesNotExist:
            raise CommandError(f"No webhook event with id {ledger_id}.") from None
        self.stdout.write(
            f"{event.gateway} {event.event_type} {event.event_id}: {event.outcome} ({event.detail})"
        )
