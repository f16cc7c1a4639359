from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from common.locking import waiting
from refunds.services.reconciliation import reconcile_payments


def _parse_since(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r}: expected an ISO date or date-time.")
        parsed = datetime.combine(day, time.min)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


class Command(BaseCommand):
    help = (
        "Ask the gateways about payments still open on our side whose hold is near or past "
        "expiry, and about refunds in flight at the gateway; apply what they say exactly as "
        "their webhooks would (idempotent: a finding already applied, by a webhook or an "
        "earlier run, changes nothing). Prints one line per look-up."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            help="Only payments and refunds created since this ISO date/date-time "
            "(default: RECONCILE_LOOKBACK_HOURS ago).",
        )
        parser.add_argument(
            "--booking", type=int, help="Only this booking (whatever its age and hold)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Ask the gateways, change nothing."
        )

    def handle(self, *args, since=None, booking=None, dry_run=False, **options):
        with waiting():
            report = reconcile_payments(
                since=_parse_since(since) if since else None, booking_id=booking, dry_run=dry_run
            )
        for finding in report.findings:
            line = f"booking {finding.booking_id} {finding.subject}: {finding.action}"
            self.stdout.write(line + (f" ({finding.detail})" if finding.detail else ""))
        summary = ", ".join(
            f"{action} {report.count(action)}"
            for action in ("applied", "already_applied", "would_apply", "flagged", "error")
        )
        prefix = "dry run: " if dry_run else ""
        self.stdout.write(f"{prefix}{len(report.findings)} looked up: {summary}")
