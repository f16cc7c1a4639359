"""The money invariant, checked: every paisa captured is kept, refunded, in flight back to
the customer, or lost to a chargeback.

For every payment, to the minor unit::

    captured = kept + refunded + refund in flight + lost to disputes

where ``captured`` is the payment's captured amount, ``refunded`` its SUCCEEDED refunds,
``in flight`` its PENDING/PROCESSING refunds, ``lost`` what its booking's lost
chargebacks took, and ``kept`` what stays with the marketplace. The identity defines
``kept``; what is checked is what must hold around it:

- ``kept >= 0``: never refunded (plus lost) more than was captured;
- nothing refunded or in flight from a payment with nothing captured;
- the payment's status follows its succeeded refunds (captured / partially_refunded /
  refunded);
- money kept for a booking that was never served (pending, expired, failed, or cancelled
  without a cancellation refund deciding what is kept) only while the payment is flagged
  for support: otherwise nobody would ever give it back.

And in total, per currency, from the refund and dispute tables themselves (so a refund
attached to no payment, or in another currency, shows): total captured = total kept +
total refunded + total in flight + total lost. :func:`check_money` reads only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from bookings.models import BookingStatus
from payments.models import Payment
from refunds.models import Dispute, Refund
from refunds.services.ledger import IN_FLIGHT_STATUSES

# A booking in these states was never served: money it keeps needs a human.
NEVER_SERVED = (
    BookingStatus.PENDING_PAYMENT,
    BookingStatus.EXPIRED,
    BookingStatus.PAYMENT_FAILED,
    BookingStatus.CANCELLED,
)
MONEY_FIELDS = ("captured", "kept", "refunded", "in_flight", "lost")


@dataclass(frozen=True)
class PaymentMoney:
    payment_id: int
    booking_id: int
    currency: str
    captured: int
    refunded: int
    in_flight: int
    lost: int

    @property
    def kept(self) -> int:
        return self.captured - self.refunded - self.in_flight - self.lost


@dataclass(frozen=True)
class Violation:
    payment_id: int | None
    booking_id: int | None
    message: str

    def __str__(self) -> str:
        where = f"payment {self.payment_id} (booking {self.booking_id})" if self.payment_id else ""
        return f"{where}: {self.message}" if where else self.message


@dataclass
class MoneyReport:
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    payments: int = 0
    flagged: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations


def check_money(*, payment_ids: list[int] | None = None) -> MoneyReport:
    """Check the invariant for every payment (or those of ``payment_ids``) and in total;
    returns the totals per currency and every violation. Reads only; a few aggregate
    queries whatever the number of payments."""
    payments = Payment.objects.all()
    if payment_ids is not None:
        payments = payments.filter(pk__in=payment_ids)
    rows = payments.annotate(
        succeeded=Coalesce(Sum("refunds__amount_minor", filter=_refund_status(["succeeded"])), 0),
        flying=Coalesce(Sum("refunds__amount_minor", filter=_refund_status(IN_FLIGHT_STATUSES)), 0),
    ).values_list(
        "pk",
        "booking_id",
        "currency",
        "captured_amount_minor",
        "succeeded",
        "flying",
        "status",
        "flagged",
        "booking__status",
    )
    lost_by_booking = dict(
        Dispute.objects.filter(lost_amount_minor__gt=0)
        .values("booking_id")
        .annotate(total=Sum("lost_amount_minor"))
        .values_list("booking_id", "total")
    )
    cancellation_refunded = set(
        Refund.objects.filter(source=Refund.Source.CANCELLATION).values_list(
            "payment_id", flat=True
        )
    )
    report = MoneyReport()
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MONEY_FIELDS, 0))
    for pk, booking_id, currency, captured, refunded, in_flight, status, flagged, b_status in rows:
        money = PaymentMoney(
            pk,
            booking_id,
            currency,
            captured,
            refunded,
            in_flight,
            lost_by_booking.get(booking_id, 0),
        )
        report.payments += 1
        report.flagged += int(flagged)
        for name in MONEY_FIELDS:
            totals[currency][name] += getattr(money, name)
        report.violations += _payment_violations(
            money,
            status=status,
            flagged=flagged,
            booking_status=b_status,
            cancellation_refund=pk in cancellation_refunded,
        )
    report.totals = dict(totals)
    if payment_ids is None:
        report.violations += _total_violations(report.totals)
    return report


def _refund_status(statuses) -> Q:
    return Q(refunds__status__in=list(statuses))


def _payment_violations(
    money: PaymentMoney,
    *,
    status: str,
    flagged: bool,
    booking_status: str,
    cancellation_refund: bool,
) -> list[Violation]:
    found: list[str] = []
    if money.kept < 0:
        found.append(
            f"refunded {money.refunded} + in flight {money.in_flight} + lost to disputes "
            f"{money.lost} exceed the {money.captured} captured by {-money.kept}"
        )
    if money.refunded > money.captured:
        found.append(f"refunded {money.refunded}, more than the {money.captured} captured")
    if money.captured == 0 and (money.refunded or money.in_flight):
        found.append("refunds of a payment with nothing captured")
    expected = _status_for(money)
    if expected is not None and status not in expected:
        found.append(f"status {status}, its refunds say {' or '.join(expected)}")
    never_served = booking_status in NEVER_SERVED and not (
        booking_status == BookingStatus.CANCELLED and cancellation_refund
    )
    if never_served and money.kept > 0 and not flagged:
        found.append(
            f"keeps {money.kept} of a booking that is {booking_status} and was never served, "
            "and the payment is not flagged for support"
        )
    return [Violation(money.payment_id, money.booking_id, message) for message in found]


def _status_for(money: PaymentMoney) -> tuple[str, ...] | None:
    if money.captured == 0:
        return (Payment.Status.CREATED, Payment.Status.FAILED)
    if money.refunded == 0:
        return (Payment.Status.CAPTURED,)
    if money.refunded >= money.captured:
        return (Payment.Status.REFUNDED,)
    return (Payment.Status.PARTIALLY_REFUNDED,)


def _total_violations(totals: dict[str, dict[str, int]]) -> list[Violation]:
    """The totals again, from the refund and dispute tables directly (every refund,
    whatever its payment): a refund the per-payment sums do not see breaks the identity."""
    refunds = Refund.objects.values("currency").annotate(
        succeeded=Coalesce(Sum("amount_minor", filter=Q(status=Refund.Status.SUCCEEDED)), 0),
        flying=Coalesce(Sum("amount_minor", filter=Q(status__in=IN_FLIGHT_STATUSES)), 0),
    )
    by_table: dict[str, dict[str, int]] = defaultdict(lambda: {"refunded": 0, "in_flight": 0})
    for row in refunds:
        by_table[row["currency"]]["refunded"] += row["succeeded"]
        by_table[row["currency"]]["in_flight"] += row["flying"]
    found = []
    for currency in sorted(set(totals) | set(by_table)):
        total = totals.get(currency, dict.fromkeys(MONEY_FIELDS, 0))
        table = by_table.get(currency, {"refunded": 0, "in_flight": 0})
        accounted = total["kept"] + table["refunded"] + table["in_flight"] + total["lost"]
        if total["captured"] != accounted:
            found.append(
                Violation(
                    None,
                    None,
                    f"in total ({currency}): captured {total['captured']} but kept "
                    f"{total['kept']} + refunded {table['refunded']} + in flight "
                    f"{table['in_flight']} + lost {total['lost']} = {accounted}",
                )
            )
    return found
