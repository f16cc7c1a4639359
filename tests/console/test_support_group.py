"""The Support group grants what support does in the admin and nothing more: support
staff are not superusers."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured

from console import support_group
from console.support_group import SUPPORT_GROUP, SUPPORT_PERMISSIONS, sync_support_group
from notifications.models import OutboxMessage
from payments.models import Payment
from refunds.models import Dispute, Refund
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, SlotFactory
from tests.factories.refunds import CapturedPaymentFactory, DisputeFactory


def granted(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


@pytest.mark.django_db
def test_the_group_exists_after_migrate_with_exactly_its_permissions():
    group = Group.objects.get(name=SUPPORT_GROUP)

    assert granted(group) == set(SUPPORT_PERMISSIONS)
    assert not any(".delete_" in name for name in granted(group))
    assert not any(name.startswith(("auth.", "axes.", "common.")) for name in granted(group))


@pytest.mark.django_db
def test_sync_takes_back_permissions_granted_by_hand_and_is_idempotent():
    group = Group.objects.get(name=SUPPORT_GROUP)
    group.permissions.add(Permission.objects.get(codename="delete_payment"))

    sync_support_group()
    sync_support_group()

    assert Group.objects.filter(name=SUPPORT_GROUP).count() == 1
    assert granted(Group.objects.get(name=SUPPORT_GROUP)) == set(SUPPORT_PERMISSIONS)


@pytest.mark.django_db
def test_a_permission_that_does_not_exist_is_an_error(monkeypatch):
    monkeypatch.setattr(
        support_group, "SUPPORT_PERMISSIONS", (*SUPPORT_PERMISSIONS, "refunds.fly_refund")
    )

    with pytest.raises(ImproperlyConfigured, match="refunds.fly_refund"):
        sync_support_group()


@pytest.mark.django_db
def test_support_staff_are_not_superusers_but_have_the_group(support_staff):
    assert support_staff.is_staff and not support_staff.is_superuser
    assert support_staff.has_perm("refunds.add_refund")
    assert not support_staff.has_perm("payments.delete_payment")
    assert not support_staff.has_perm("accounts.change_user")


@pytest.mark.django_db
def test_support_views_bookings_payments_and_the_webhook_ledger(staff_admin):
    payment = CapturedPaymentFactory()

    for url in (
        "/admin/bookings/booking/",
        f"/admin/bookings/booking/{payment.booking_id}/change/",
        "/admin/payments/payment/",
        f"/admin/payments/payment/{payment.pk}/change/",
        "/admin/payments/webhookevent/",
        "/admin/partners/partner/",
        "/admin/partners/slot/",
        "/admin/accounts/user/",
        "/admin/refunds/refund/money/",
    ):
        assert staff_admin.get(url).status_code == 200, url


@pytest.mark.django_db
def test_support_clears_a_payment_flag(staff_admin):
    payment = CapturedPaymentFactory(flagged=True, flag_reason="amount mismatch")

    response = staff_admin.post(
        f"/admin/payments/payment/{payment.pk}/change/", {"flag_reason": "checked with bank"}
    )

    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.flagged, payment.flag_reason) == (False, "checked with bank")
    assert payment.captured_amount_minor == payment.amount_minor  # money untouched


@pytest.mark.django_db
def test_support_resolves_a_dispute_with_a_refund(
    staff_admin, support_staff, django_capture_on_commit_callbacks
):
    payment = CapturedPaymentFactory(booking__status="COMPLETED")
    dispute = DisputeFactory(booking=payment.booking)
    selection = {"action": "resolve_with_refund", "_selected_action": [dispute.pk]}

    with django_capture_on_commit_callbacks(execute=True):
        staff_admin.post(
            "/admin/refunds/dispute/", {**selection, "apply": "1", "amount": "10.00", "note": "ok"}
        )

    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.RESOLVED_REFUND
    assert dispute.resolved_by == support_staff
    assert dispute.refund.amount_minor == 1000


@pytest.mark.django_db
def test_support_refunds_a_booking_by_hand_and_retries_a_failed_refund(
    staff_admin, support_staff, refund, django_capture_on_commit_callbacks
):
    payment = CapturedPaymentFactory()
    failed = refund(status=Refund.Status.FAILED, attempts=5, last_error="GatewayError: 503")

    with django_capture_on_commit_callbacks(execute=True):
        # Refund a booking: choose it, then refund on its page (amounts in major units).
        chosen = staff_admin.post("/admin/refunds/refund/manual/", {"booking": payment.booking_id})
        manual = staff_admin.post(chosen.url, {"amount": "7.00", "reason": "goodwill"})
        staff_admin.post(
            "/admin/refunds/refund/", {"action": "retry_failed", "_selected_action": [failed.pk]}
        )

    assert chosen.url == f"/admin/bookings/booking/{payment.booking_id}/refund/"
    assert manual.status_code == 302
    assert manual.url == f"/admin/bookings/booking/{payment.booking_id}/change/"
    created = Refund.objects.get(booking=payment.booking)
    assert (created.amount_minor, created.created_by) == (700, support_staff)
    failed.refresh_from_db()
    assert failed.status == Refund.Status.SUCCEEDED  # retried on the sandbox after commit


@pytest.mark.django_db
def test_support_retries_failed_outbox_messages(staff_admin, outbox_message):
    failed = outbox_message(status=OutboxMessage.Status.FAILED)

    staff_admin.post(
        "/admin/notifications/outboxmessage/",
        {"action": "retry_failed", "_selected_action": [failed.pk]},
    )

    failed.refresh_from_db()
    assert failed.status != OutboxMessage.Status.FAILED


@pytest.mark.django_db
def test_support_cannot_delete_payments_or_bookings(staff_admin):
    payment = CapturedPaymentFactory()
    booking = BookingFactory()

    assert staff_admin.post(f"/admin/payments/payment/{payment.pk}/delete/").status_code == 403
    assert staff_admin.post(f"/admin/bookings/booking/{booking.pk}/delete/").status_code == 403
    assert Payment.objects.filter(pk=payment.pk).exists()


@pytest.mark.django_db
def test_support_cannot_edit_users_passwords_flags_or_groups(staff_admin, customer):
    password = customer.password

    change = staff_admin.post(
        f"/admin/accounts/user/{customer.pk}/change/",
        {"email": customer.email, "role": customer.role, "is_staff": "on", "is_superuser": "on"},
    )
    set_password = staff_admin.post(
        f"/admin/accounts/user/{customer.pk}/password/",
        {"password1": "new-pass-123456", "password2": "new-pass-123456"},
    )

    assert change.status_code == 403
    assert set_password.status_code == 403
    assert staff_admin.get("/admin/accounts/user/add/").status_code == 403
    assert staff_admin.get("/admin/auth/group/").status_code == 403
    customer.refresh_from_db()
    assert (customer.is_staff, customer.is_superuser, customer.password) == (False, False, password)


@pytest.mark.django_db
def test_support_cannot_change_money_or_the_ledger(staff_admin, refund):
    failed = refund(status=Refund.Status.FAILED, amount=500)

    response = staff_admin.post(
        f"/admin/refunds/refund/{failed.pk}/change/", {"amount_minor": 999999}
    )

    assert response.status_code == 403
    failed.refresh_from_db()
    assert failed.amount_minor == 500


@pytest.mark.django_db
def test_support_only_looks_at_partners_and_slots(staff_admin):
    partner = PartnerFactory(verified=False)
    slot = SlotFactory(partner=partner)

    partners = staff_admin.get("/admin/partners/partner/")
    assert b'value="verify"' not in partners.content
    # A slot's page opens read-only (its form has no start/end fields to put the zone on).
    slot_page = staff_admin.get(f"/admin/partners/slot/{slot.pk}/change/")
    assert slot_page.status_code == 200
    assert b'name="start' not in slot_page.content
    staff_admin.post(
        "/admin/partners/partner/", {"action": "verify", "_selected_action": [partner.pk]}
    )
    staff_admin.post("/admin/partners/slot/", {"action": "block", "_selected_action": [slot.pk]})

    partner.refresh_from_db()
    slot.refresh_from_db()
    assert (partner.verified, slot.blocked) == (False, False)
