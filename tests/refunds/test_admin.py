"""The support console drives the same services as the API (same database effects)."""

import json

import pytest

from bookings.models import BookingStatus
from refunds.models import Dispute, Refund, RefundPolicy
from tests.factories.refunds import RefundPolicyFactory


@pytest.fixture
def open_dispute(captured_payment):
    from refunds.services import open_dispute as open_dispute_service

    payment = captured_payment(status=BookingStatus.COMPLETED)
    return open_dispute_service(
        booking_id=payment.booking_id, customer=payment.booking.customer, reason="no show"
    )


def _tier(hours, percent):
    return {"min_hours_before": hours, "percent": percent}


DISPUTES = "/admin/refunds/dispute/"
REFUNDS = "/admin/refunds/refund/"


@pytest.mark.django_db
def test_resolve_with_refund_asks_for_an_amount_then_refunds_through_the_service(
    admin_client_support, open_dispute, support_user, django_capture_on_commit_callbacks
):
    selection = {"action": "resolve_with_refund", "_selected_action": [open_dispute.pk]}
    form_page = admin_client_support.post(DISPUTES, selection)
    assert form_page.status_code == 200
    assert b'name="amount"' in form_page.content
    open_dispute.refresh_from_db()
    assert open_dispute.status == Dispute.Status.OPEN  # nothing happens before confirming

    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client_support.post(
            DISPUTES, {**selection, "apply": "1", "amount": "200.00", "note": "partial goodwill"}
        )
    assert done.status_code == 302
    open_dispute.refresh_from_db()
    assert open_dispute.status == Dispute.Status.RESOLVED_REFUND
    assert open_dispute.resolved_by == support_user
    assert open_dispute.resolution_note == "partial goodwill"
    refund = open_dispute.refund
    assert (refund.amount_minor, refund.source, refund.created_by) == (
        20000,
        Refund.Source.DISPUTE,
        support_user,
    )
    assert refund.status == Refund.Status.SUCCEEDED  # executed after commit (sandbox)
    assert open_dispute.booking.events.filter(kind="dispute_resolved_refund").exists()


@pytest.mark.django_db
def test_resolve_with_refund_above_the_capture_is_refused_and_leaves_the_dispute_open(
    admin_client_support, open_dispute
):
    response = admin_client_support.post(
        DISPUTES,
        {
            "action": "resolve_with_refund",
            "_selected_action": [open_dispute.pk],
            "apply": "1",
            "amount": "499.01",
            "note": "too much",
        },
        follow=True,
    )
    assert b"exceed the captured amount" in response.content
    open_dispute.refresh_from_db()
    assert open_dispute.status == Dispute.Status.OPEN
    assert open_dispute.resolved_by is None
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_reject_records_the_staff_member_and_note(admin_client_support, open_dispute, support_user):
    selection = {"action": "reject", "_selected_action": [open_dispute.pk]}
    assert b'name="note"' in admin_client_support.post(DISPUTES, selection).content
    admin_client_support.post(DISPUTES, {**selection, "apply": "1", "note": "service delivered"})
    open_dispute.refresh_from_db()
    assert (open_dispute.status, open_dispute.resolved_by, open_dispute.resolution_note) == (
        Dispute.Status.REJECTED,
        support_user,
        "service delivered",
    )
    assert open_dispute.resolved_at is not None
    assert not Refund.objects.exists()
    # A closed dispute cannot be closed again.
    admin_client_support.post(DISPUTES, {**selection, "apply": "1", "note": "again"})
    open_dispute.refresh_from_db()
    assert open_dispute.resolution_note == "service delivered"


@pytest.mark.django_db
def test_dispute_page_shows_the_booking_timeline_and_payment(admin_client_support, open_dispute):
    page = admin_client_support.get(f"{DISPUTES}{open_dispute.pk}/change/")
    assert page.status_code == 200
    assert b"dispute opened" in page.content
    assert open_dispute.booking.payment.order_id.encode() in page.content
    listing = admin_client_support.get(
        DISPUTES, {"status__exact": "open", "source__exact": "customer"}
    )
    assert listing.status_code == 200
    link = f"/admin/refunds/dispute/{open_dispute.pk}/change/".encode()
    assert link in listing.content
    assert link not in admin_client_support.get(DISPUTES, {"status__exact": "rejected"}).content


@pytest.mark.django_db
def test_retry_action_requeues_failed_refunds_through_the_service(
    admin_client_support, failed_refund, django_capture_on_commit_callbacks
):
    failed = failed_refund(amount=500)
    payment = failed.payment
    attention = admin_client_support.get(REFUNDS, {"attention": "yes"})
    assert f"/admin/refunds/refund/{failed.pk}/change/".encode() in attention.content

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_support.post(
            REFUNDS, {"action": "retry_failed", "_selected_action": [failed.pk]}
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Refund.Status.SUCCEEDED
    assert payment.booking.events.filter(kind="refund_retried").exists()


@pytest.mark.django_db
def test_manual_refund_view_uses_the_service_and_its_limit(
    admin_client_support, captured_payment, support_user
):
    payment = captured_payment(amount=10000)
    url = f"/admin/bookings/booking/{payment.booking_id}/refund/"
    chosen = admin_client_support.get(
        "/admin/refunds/refund/manual/", {"booking": payment.booking_id}
    )
    assert (chosen.status_code, chosen.url) == (302, url)
    page = admin_client_support.get(url)
    assert b"refundable now INR 100.00" in page.content
    done = admin_client_support.post(url, {"amount": "70.00", "reason": "goodwill"})
    assert done.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.source, refund.created_by) == (
        7000,
        Refund.Source.MANUAL,
        support_user,
    )
    refused = admin_client_support.post(url, {"amount": "30.01", "reason": "more"})
    assert refused.status_code == 200
    assert b"exceed the captured amount" in refused.content
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_policy_admin_validates_tiers_and_a_new_active_version_replaces_the_old(
    admin_client_support, support_user
):
    old = RefundPolicy.objects.get(active=True)
    url = "/admin/refunds/refundpolicy/add/"
    bad = admin_client_support.post(
        url,
        {
            "name": "Bad",
            "version": "",
            "active": "on",
            "tiers": json.dumps([_tier(12, 50), _tier(24, 100)]),
            "provider_cancel_percent": 100,
            "unassigned_percent": 100,
        },
    )
    assert bad.status_code == 200
    assert b"strictly descending" in bad.content
    assert RefundPolicy.objects.count() == 1

    good = admin_client_support.post(
        url,
        {
            "name": "Strict",
            "version": "",
            "active": "on",
            "tiers": json.dumps([_tier(24, 75), _tier(0, 0)]),
            "provider_cancel_percent": 100,
            "unassigned_percent": 100,
        },
    )
    assert good.status_code == 302, good.content
    new = RefundPolicy.objects.get(active=True)
    assert (new.name, new.version, new.created_by) == ("Strict", old.version + 1, support_user)
    old.refresh_from_db()
    assert not old.active


@pytest.mark.django_db
def test_policy_admin_refuses_to_deactivate_the_only_active_policy(admin_client_support):
    policy = RefundPolicyFactory(name="Only")
    response = admin_client_support.post(
        f"/admin/refunds/refundpolicy/{policy.pk}/change/", {"name": "Only"}
    )
    assert response.status_code == 200
    assert b"One policy must stay active" in response.content
    policy.refresh_from_db()
    assert policy.active


@pytest.mark.django_db
def test_a_refund_awaiting_the_gateway_for_a_day_needs_attention(
    admin_client_support, captured_payment
):
    """The sweep never sends an accepted refund again, so a lost refund webhook must
    surface to support instead."""
    from datetime import timedelta

    from django.utils import timezone

    payment = captured_payment()

    def awaiting(gateway_refund_id, age):
        refund = Refund.objects.create(
            booking=payment.booking,
            payment=payment,
            amount_minor=500,
            currency="INR",
            source=Refund.Source.MANUAL,
            status=Refund.Status.PROCESSING,
            gateway_refund_id=gateway_refund_id,
            attempts=1,
        )
        Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - age)
        return f"/admin/refunds/refund/{refund.pk}/change/".encode()

    stale = awaiting("re_stale", timedelta(days=1, minutes=1))
    recent = awaiting("re_recent", timedelta(hours=2))
    attention = admin_client_support.get(REFUNDS, {"attention": "yes"}).content
    assert stale in attention
    assert recent not in attention


# Support staff who are not superusers: what they may do with money is exactly what their
# model permissions grant (through a group), not merely being staff.
SUPPORT_REFUND_PERMISSIONS = [
    "view_refund",
    "add_refund",  # refund a booking by hand
    "change_refund",  # retry a failed refund
    "view_dispute",
    "change_dispute",  # resolve with a refund, reject
]


def _staff_client(*codenames):
    from django.contrib.auth.models import Group, Permission
    from django.test import Client

    from tests.factories.accounts import SupportUserFactory

    group = Group.objects.create(name="support-" + "-".join(codenames))
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="refunds", codename__in=codenames)
    )
    user = SupportUserFactory(is_superuser=False)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.mark.django_db
def test_staff_with_view_permissions_only_can_look_but_not_move_money(
    failed_refund, open_dispute, captured_payment
):
    client, _user = _staff_client("view_refund", "view_dispute")
    failed = failed_refund(amount=500)
    payment = captured_payment(amount=10000)

    listing = client.get(REFUNDS)
    assert listing.status_code == 200
    assert f"/admin/refunds/refund/{failed.pk}/change/".encode() in listing.content
    assert b'value="retry_failed"' not in listing.content
    assert b"/admin/refunds/refund/manual/" not in listing.content
    client.post(REFUNDS, {"action": "retry_failed", "_selected_action": [failed.pk]})
    manual = client.post(
        f"/admin/bookings/booking/{payment.booking_id}/refund/",
        {"amount": "70.00", "reason": "goodwill"},
    )
    assert manual.status_code == 403

    disputes = client.get(DISPUTES)
    assert disputes.status_code == 200
    assert b'value="resolve_with_refund"' not in disputes.content
    assert b'value="reject"' not in disputes.content
    client.post(
        DISPUTES,
        {
            "action": "resolve_with_refund",
            "_selected_action": [open_dispute.pk],
            "apply": "1",
            "amount": "200.00",
            "note": "not allowed",
        },
    )

    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Refund.Status.FAILED, 5)
    assert not Refund.objects.filter(booking=payment.booking).exists()
    open_dispute.refresh_from_db()
    assert (open_dispute.status, open_dispute.refund_id) == (Dispute.Status.OPEN, None)


@pytest.mark.django_db
def test_non_superuser_support_staff_with_the_refund_permissions_run_the_actions(
    failed_refund, open_dispute, captured_payment, django_capture_on_commit_callbacks
):
    client, user = _staff_client(*SUPPORT_REFUND_PERMISSIONS)
    assert not user.is_superuser
    failed = failed_refund(amount=500)
    payment = captured_payment(amount=10000)

    listing = client.get(REFUNDS)
    assert b'value="retry_failed"' in listing.content
    assert b"/admin/refunds/refund/manual/" in listing.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REFUNDS, {"action": "retry_failed", "_selected_action": [failed.pk]})
        manual = client.post(
            f"/admin/bookings/booking/{payment.booking_id}/refund/",
            {"amount": "70.00", "reason": "goodwill"},
        )
        resolved = client.post(
            DISPUTES,
            {
                "action": "resolve_with_refund",
                "_selected_action": [open_dispute.pk],
                "apply": "1",
                "amount": "200.00",
                "note": "partial goodwill",
            },
        )
    assert (manual.status_code, resolved.status_code) == (302, 302)

    failed.refresh_from_db()
    assert failed.status == Refund.Status.SUCCEEDED
    by_hand = Refund.objects.get(booking=payment.booking)
    assert (by_hand.amount_minor, by_hand.created_by, by_hand.status) == (
        7000,
        user,
        Refund.Status.SUCCEEDED,
    )
    open_dispute.refresh_from_db()
    assert (open_dispute.status, open_dispute.resolved_by) == (
        Dispute.Status.RESOLVED_REFUND,
        user,
    )
    assert open_dispute.refund.amount_minor == 20000
