"""The booking admin is a read-only console with the filters support needs."""

import pytest
from django.test import Client

from bookings.factories import BookingFactory
from bookings.models import Booking, BookingStatus
from common.models import IdempotencyKey
from partners.factories import SlotFactory


@pytest.fixture
def admin_client(support_user) -> Client:
    client = Client()
    client.force_login(support_user)
    return client


@pytest.mark.django_db
def test_changelist_filters_by_status_city_partner_and_date(admin_client):
    confirmed = BookingFactory(status=BookingStatus.CONFIRMED)
    pending = BookingFactory()

    page = admin_client.get("/admin/bookings/booking/")
    assert page.status_code == 200
    for filter_param in ("status", "partner__city", "partner", "slot__start"):
        assert filter_param in page.content.decode()

    filtered = admin_client.get("/admin/bookings/booking/", {"status__exact": "CONFIRMED"})
    assert list(filtered.context["cl"].result_list) == [confirmed]
    by_city = admin_client.get(
        "/admin/bookings/booking/", {"partner__city__id__exact": pending.partner.city_id}
    )
    assert pending in by_city.context["cl"].result_list
    by_email = admin_client.get("/admin/bookings/booking/", {"q": pending.customer.email})
    assert list(by_email.context["cl"].result_list) == [pending]


@pytest.mark.django_db
def test_money_and_state_are_read_only_and_the_timeline_is_inline(admin_client):
    booking = BookingFactory(quantity=2, slot=SlotFactory(capacity=2))
    url = f"/admin/bookings/booking/{booking.pk}/change/"

    page = admin_client.get(url)
    assert page.status_code == 200
    admin_form = page.context["adminform"]
    for name in ("amount_minor", "currency", "quantity", "status"):
        assert name in admin_form.readonly_fields
    assert any(
        inline.opts.model.__name__ == "BookingEvent"
        for inline in page.context["inline_admin_formsets"]
    )

    admin_client.post(url, {"amount_minor": 1, "quantity": 9, "status": "CONFIRMED"})
    booking.refresh_from_db()
    assert (booking.amount_minor, booking.quantity, booking.status) == (
        99800,
        2,
        BookingStatus.PENDING_PAYMENT,
    )
    assert admin_client.get("/admin/bookings/booking/add/").status_code == 403
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_idempotency_keys_are_view_only(admin_client, customer):
    from datetime import timedelta

    from django.utils import timezone

    key = IdempotencyKey.objects.create(
        user=customer,
        key="k1",
        method="POST",
        path="/api/v1/bookings",
        request_hash="0" * 64,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    assert admin_client.get("/admin/common/idempotencykey/").status_code == 200
    assert admin_client.get(f"/admin/common/idempotencykey/{key.pk}/change/").status_code == 200
    admin_client.post(f"/admin/common/idempotencykey/{key.pk}/change/", {"key": "changed"})
    key.refresh_from_db()
    assert key.key == "k1"
    assert admin_client.get("/admin/common/idempotencykey/add/").status_code == 403
