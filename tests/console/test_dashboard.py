"""The admin index is the operators' dashboard: real figures, each linking to the admin list
filtered to exactly the rows it counts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from bookings.models import BookingStatus
from notifications.models import OutboxMessage
from refunds.models import Dispute, Refund
from tests.factories.accounts import SupportUserFactory
from tests.factories.bookings import BookingFactory
from tests.factories.refunds import CapturedPaymentFactory, DisputeFactory

# A Wednesday at noon: "this week" began on Monday the 30th of November.
NOON_WEDNESDAY = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def figures(response) -> dict:
    return {
        (panel.title, figure.label): figure
        for panel in response.context["dashboard"]["panels"]
        for figure in panel.figures
    }


@pytest.fixture
def frozen():
    with time_machine.travel(NOON_WEDNESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def marketplace(frozen, outbox_message, refund, webhook_event):
    """Rows of every kind the dashboard counts, some inside and some outside its windows."""
    frozen.move_to(NOON_WEDNESDAY - timedelta(days=9))  # last week
    BookingFactory()
    CapturedPaymentFactory(amount_minor=7000)
    frozen.move_to(NOON_WEDNESDAY - timedelta(days=1))  # Tuesday: this week, not today
    BookingFactory()
    CapturedPaymentFactory(amount_minor=20000, captured_amount_minor=20000)
    frozen.move_to(NOON_WEDNESDAY)
    BookingFactory(hold_expires_at=timezone.now() + timedelta(minutes=10))  # expiring
    BookingFactory(hold_expires_at=timezone.now() + timedelta(hours=2))  # not yet
    CapturedPaymentFactory(amount_minor=49900)  # its booking is CONFIRMED, made today
    CapturedPaymentFactory(amount_minor=30000, flagged=True, flag_reason="amount mismatch")
    refund(status=Refund.Status.FAILED, last_error="GatewayError: 400")
    refund(status=Refund.Status.PENDING)
    outbox_message(status=OutboxMessage.Status.FAILED, kind="booking.cancelled")
    outbox_message(status=OutboxMessage.Status.FAILED, kind="booking.reminder")
    outbox_message(status=OutboxMessage.Status.PENDING)
    webhook_event(outcome="processed", minutes_ago=5)
    webhook_event(outcome="flagged", minutes_ago=20)
    webhook_event(outcome="processed", minutes_ago=90)
    soon = DisputeFactory(evidence_due_by=timezone.now() + timedelta(days=2))
    later = DisputeFactory(evidence_due_by=timezone.now() + timedelta(days=5))
    undated = DisputeFactory()
    DisputeFactory(status=Dispute.Status.REJECTED)
    return {"disputes": [soon, later, undated]}


@pytest.mark.django_db
def test_dashboard_shows_the_figures_of_the_rows(staff_admin, marketplace):
    response = staff_admin.get("/admin/")

    assert response.status_code == 200
    shown = {key: figure.value for key, figure in figures(response).items()}
    # Made today: 2 holds, the bookings of 2 payments, of 2 refunds and of 4 disputes.
    assert shown[("Bookings", "Made today")] == 10
    assert shown[("Bookings", "Made this week")] == 12  # + Tuesday's booking and payment
    # the one ending in 10 minutes, and last week's and Tuesday's, never swept
    assert shown[("Bookings", "Unpaid holds ending within 30 min or overdue")] == 3
    # 499 + 300 + the refunded payments (2 × 499); + Tuesday's 200
    assert shown[("Revenue", "Captured today (INR)")] == "INR 1797.00"
    assert shown[("Revenue", "Captured this week (INR)")] == "INR 1997.00"
    assert shown[("Needs attention", "Refunds needing attention")] == 1
    assert shown[("Needs attention", "Refunds in flight")] == 1
    assert shown[("Needs attention", "Flagged payments")] == 1
    assert shown[("Needs attention", "Outbox failures")] == 2
    assert shown[("Needs attention", "Outbox failures: booking.cancelled")] == 1
    assert shown[("Needs attention", "Outbox pending")] == 1
    assert shown[("Webhook events, last hour", "Received")] == 2
    assert shown[("Webhook events, last hour", "Flagged")] == 1
    assert response.context["dashboard"]["disputes_open"] == 3
    assert response.context["dashboard"]["disputes"] == marketplace["disputes"]  # due first
    assert b"Made this week" in response.content
    assert b"Dispute #" in response.content


@pytest.mark.django_db
def test_every_figure_links_to_the_list_of_exactly_its_rows(staff_admin, marketplace):
    dashboard = figures(staff_admin.get("/admin/"))
    assert len(dashboard) >= 14

    for (panel, label), figure in dashboard.items():
        listing = staff_admin.get(figure.url)
        assert listing.status_code == 200, (label, figure.url)
        changelist = listing.context["cl"]  # no "?e=1" redirect: the admin took the filter
        rows = list(changelist.queryset)
        if panel == "Revenue":
            total = sum(payment.captured_amount_minor for payment in rows)
            assert figure.value == f"INR {total // 100}.{total % 100:02d}", label
        else:
            assert changelist.result_count == figure.value, (label, figure.url)
            assert len(rows) == figure.value


@pytest.mark.django_db
def test_open_disputes_link_to_their_pages_and_to_the_open_list(staff_admin, marketplace):
    response = staff_admin.get("/admin/")
    content = response.content.decode()

    for dispute in marketplace["disputes"]:
        page = f"/admin/refunds/dispute/{dispute.pk}/change/"
        assert page in content
        assert staff_admin.get(page).status_code == 200
    listing = staff_admin.get(response.context["dashboard"]["disputes_url"])
    assert listing.context["cl"].result_count == 3


@pytest.mark.django_db
def test_dashboard_is_a_handful_of_queries(staff_admin, marketplace, django_assert_max_num_queries):
    # session, user, permissions (2) + 9 figures + the model list and recent actions
    with django_assert_max_num_queries(16):
        assert staff_admin.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_staff_without_permissions_see_no_figures(marketplace):
    client = Client()
    client.force_login(SupportUserFactory(is_superuser=False))

    response = client.get("/admin/")

    assert response.status_code == 200
    assert response.context["dashboard"]["panels"] == []
    assert response.context["dashboard"]["disputes"] is None


@pytest.mark.django_db
def test_empty_dashboard_renders(staff_admin):
    response = staff_admin.get("/admin/")

    assert response.status_code == 200
    shown = figures(response)
    assert shown[("Bookings", "Made today")].value == 0
    assert shown[("Revenue", "Captured this week")].value == "nothing yet"
    assert b"No open disputes." in response.content


@pytest.mark.django_db
def test_a_finished_hold_is_not_counted(staff_admin, frozen):
    BookingFactory(
        status=BookingStatus.EXPIRED, hold_expires_at=timezone.now() + timedelta(minutes=5)
    )

    shown = figures(staff_admin.get("/admin/"))

    assert shown[("Bookings", "Unpaid holds ending within 30 min or overdue")].value == 0
