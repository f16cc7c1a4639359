"""``manage.py check_money`` and the admin page: totals, violations, exit code."""

from io import StringIO

import pytest
from django.core.management import call_command

from bookings.models import BookingStatus
from payments.models import Payment
from refunds.models import Dispute, Refund
from tests.factories.refunds import create_refund_of


def check() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("check_money", stdout=out, stderr=StringIO())
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    return 0, out.getvalue()


@pytest.mark.django_db
def test_balanced_books_print_the_totals_and_exit_0(
    captured_payment, django_capture_on_commit_callbacks
):
    payment = captured_payment(amount=10000)
    with django_capture_on_commit_callbacks(execute=True):  # the sandbox refunds at once
        create_refund_of(payment, 2500)
    with django_capture_on_commit_callbacks(execute=False):  # still in flight
        create_refund_of(payment, 1500)

    code, output = check()

    assert code == 0, output
    assert "OK: no violation" in output
    line = next(row for row in output.splitlines() if row.startswith("INR"))
    assert line.split() == ["INR", "10000", "6000", "2500", "1500", "0"]


@pytest.mark.django_db
def test_refunded_more_than_captured_is_a_violation_and_exits_1(captured_payment):
    payment = captured_payment(amount=10000)
    # Written around the services (which refuse it): what the check exists to catch.
    Refund.objects.create(
        booking=payment.booking,
        payment=payment,
        amount_minor=12000,
        currency="INR",
        source=Refund.Source.MANUAL,
        status=Refund.Status.SUCCEEDED,
    )
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.REFUNDED)

    code, output = check()

    assert code == 1
    assert "exceed the 10000 captured by 2000" in output
    assert "more than the 10000 captured" in output


@pytest.mark.django_db
def test_money_kept_for_an_expired_booking_without_a_flag_is_a_violation(captured_payment):
    captured_payment(status=BookingStatus.EXPIRED)
    code, output = check()
    assert code == 1 and "was never served" in output

    Payment.objects.update(flagged=True, flag_reason="support is on it")
    assert check()[0] == 0


@pytest.mark.django_db
def test_a_lost_dispute_counts_and_a_refund_on_top_is_a_violation(captured_payment):
    payment = captured_payment(amount=10000)
    Dispute.objects.create(
        booking=payment.booking,
        source=Dispute.Source.GATEWAY,
        gateway_dispute_id="dp_1",
        reason="chargeback",
        status=Dispute.Status.CLOSED,
        outcome=Dispute.Outcome.LOST,
        lost_amount_minor=10000,
    )
    code, output = check()
    assert code == 0
    line = next(row for row in output.splitlines() if row.startswith("INR"))
    assert line.split() == ["INR", "10000", "0", "0", "0", "10000"]

    Refund.objects.create(
        booking=payment.booking,
        payment=payment,
        amount_minor=100,
        currency="INR",
        source=Refund.Source.MANUAL,
        status=Refund.Status.PENDING,
    )
    assert check()[0] == 1


@pytest.mark.django_db
def test_admin_money_page_shows_the_same(captured_payment, admin_client_support):
    captured_payment(status=BookingStatus.EXPIRED)
    page = admin_client_support.get("/admin/refunds/refund/money/")
    assert page.status_code == 200
    assert "1 violation(s)" in page.content.decode()
    assert "INR 499.00" in page.content.decode()  # totals in major units
