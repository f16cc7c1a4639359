from django.core.management.base import BaseCommand

from refunds.services.money import MONEY_FIELDS, check_money


class Command(BaseCommand):
    help = (
        "Check the money invariant: for every payment, and in total per currency, "
        "captured = kept + refunded + refund in flight + lost to disputes, never refunded "
        "more than captured. Prints the totals and every violation; exits 1 when there is one."
    )

    def handle(self, *args, **options):
        report = check_money()
        self.stdout.write(
            f"{report.payments} payments, {report.flagged} flagged for support (minor units)"
        )
        self.stdout.write("currency " + " ".join(f"{name:>12}" for name in MONEY_FIELDS))
        for currency, total in sorted(report.totals.items()):
            self.stdout.write(
                f"{currency:<8} " + " ".join(f"{total[name]:>12}" for name in MONEY_FIELDS)
            )
        if report.ok:
            self.stdout.write("OK: no violation")
            return
        for violation in report.violations:
            self.stdout.write(f"VIOLATION {violation}")
        self.stderr.write(f"{len(report.violations)} violation(s)")
        raise SystemExit(1)
