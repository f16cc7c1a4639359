"""A dispute is resolved or rejected from its own page, through the same services as the
API; amounts in major units; a refusal shows its message and changes nothing."""

import pytest

from bookings.models import BookingStatus
from refunds.models import Dispute, Refund


@pytest.fixture
def open_dispute(captured_payment):
    from refunds.services import open_dispute as open_dispute_service

    payment = captured_payment(status=BookingStatus.COMPLETED, amount=49900)
    return open_dispute_service(
        booking_id=payment.booking_id, customer=payment.booking.customer, reason="no show"
    )


def page(dispute) -> str:
    return f"/admin/refunds/dispute/{dispute.pk}/change/"


def resolve(dispute) -> str:
    return f"/admin/refunds/dispute/{dispute.pk}/resolve/"


def reject(dispute) -> str:
    return f"/admin/refunds/dispute/{dispute.pk}/reject/"


@pytest.mark.django_db
def test_resolve_with_a_refund_from_the_dispute_page(
    admin_client_support, open_dispute, support_user, django_capture_on_commit_callbacks
):
    shown = admin_client_support.get(page(open_dispute)).content.decode()
    assert f'href="{resolve(open_dispute)}"' in shown and f'href="{reject(open_dispute)}"' in shown
    assert 'name="_save"' not in shown
    form = admin_client_support.get(resolve(open_dispute))
    assert form.status_code == 200
    assert "refundable now INR 499.00" in form.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client_support.post(
            resolve(open_dispute), {"amount": "200.50", "note": "partial goodwill"}
        )

    assert (done.status_code, done.url) == (302, page(open_dispute))
    open_dispute.refresh_from_db()
    assert (open_dispute.status, open_dispute.resolved_by, open_dispute.resolution_note) == (
        Dispute.Status.RESOLVED_REFUND,
        support_user,
        "partial goodwill",
    )
    assert (open_dispute.refund.amount_minor, open_dispute.refund.source) == (
        20050,
        Refund.Source.DISPUTE,
    )
    after = admin_client_support.get(page(open_dispute)).content.decode()
    assert resolve(open_dispute) not in after  # a closed dispute offers nothing


@pytest.mark.django_db
def test_reject_from_the_dispute_page(admin_client_support, open_dispute, support_user):
    done = admin_client_support.post(reject(open_dispute), {"note": "service delivered"})
    assert done.status_code == 302
    open_dispute.refresh_from_db()
    assert (open_dispute.status, open_dispute.resolved_by) == (
        Dispute.Status.REJECTED,
        support_user,
    )
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [("499.01", "exceed the captured amount"), ("200.505", "at most 2 decimal"), ("", "required")],
)
@pytest.mark.django_db
def test_a_refused_resolution_shows_why_and_leaves_the_dispute_open(
    admin_client_support, open_dispute, amount, message
):
    refused = admin_client_support.post(resolve(open_dispute), {"amount": amount, "note": "n"})
    assert refused.status_code == 200
    assert message in refused.content.decode()
    open_dispute.refresh_from_db()
    assert (open_dispute.status, open_dispute.refund_id) == (Dispute.Status.OPEN, None)
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_a_closed_dispute_cannot_be_closed_again_from_its_page(admin_client_support, open_dispute):
    admin_client_support.post(reject(open_dispute), {"note": "first"})
    again = admin_client_support.post(resolve(open_dispute), {"amount": "10.00", "note": "second"})
    assert again.status_code == 200
    assert "no longer open" in again.content.decode()
    open_dispute.refresh_from_db()
    assert (open_dispute.status, open_dispute.resolution_note) == (Dispute.Status.REJECTED, "first")
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_resolving_from_the_page_needs_the_permission(open_dispute):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories.accounts import SupportUserFactory

    user = SupportUserFactory(is_superuser=False)
    user.user_permissions.set(Permission.objects.filter(codename="view_dispute"))
    client = Client()
    client.force_login(user)
    assert resolve(open_dispute) not in client.get(page(open_dispute)).content.decode()
    assert client.post(resolve(open_dispute), {"amount": "1.00", "note": "n"}).status_code == 403
    assert client.post(reject(open_dispute), {"note": "n"}).status_code == 403
    open_dispute.refresh_from_db()
    assert open_dispute.status == Dispute.Status.OPEN
