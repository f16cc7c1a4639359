"""The booking admin is a read-only console with the filters support needs."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from common.models import IdempotencyKey
from tests.factories.bookings import BookingFactory
from tests.factories.partners import CityFactory, PartnerFactory, SlotFactory

CHANGELIST = "/admin/bookings/booking/"


@pytest.fixture
def admin_client(support_user) -> Client:
    client = Client()
    client.force_login(support_user)
    return client


@pytest.mark.django_db
def test_changelist_filters_by_status_city_partner_and_date(admin_client):
    day = (timezone.now() + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    later_day = day + timedelta(days=2)
    city_x, city_y = CityFactory(), CityFactory()
    partner_a = PartnerFactory(city=city_x)
    partner_b = PartnerFactory(city=city_y)
    partner_c = PartnerFactory(city=city_x)
    # Each filter below matches exactly one of these and excludes the other three.
    confirmed = BookingFactory(
        status=BookingStatus.CONFIRMED, slot=SlotFactory(partner=partner_a, start=day)
    )
    in_city_y = BookingFactory(slot=SlotFactory(partner=partner_b, start=day))
    of_partner_c = BookingFactory(slot=SlotFactory(partner=partner_c, start=day))
    later = BookingFactory(slot=SlotFactory(partner=partner_a, start=later_day))

    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200
    for filter_param in ("status", "partner__city", "partner", "slot__start"):
        assert filter_param in page.content.decode()

    def listed(query: dict) -> list:
        response = admin_client.get(CHANGELIST, query)
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    assert set(listed({})) == {confirmed, in_city_y, of_partner_c, later}
    assert listed({"status__exact": "CONFIRMED"}) == [confirmed]
    assert listed({"partner__city__id__exact": city_y.pk}) == [in_city_y]
    assert listed({"partner__id__exact": partner_c.pk}) == [of_partner_c]
    # The date filter's own links send aware midnights (str() of the datetimes).
    midnight = later_day.replace(hour=0)
    assert listed(
        {"slot__start__gte": str(midnight), "slot__start__lt": str(midnight + timedelta(days=1))}
    ) == [later]
    assert listed({"q": in_city_y.customer.email}) == [in_city_y]


@pytest.mark.django_db
def test_the_booking_page_is_read_only_without_save_buttons_and_refuses_a_post(admin_client):
    booking = BookingFactory(quantity=2, slot=SlotFactory(capacity=2))
    url = f"/admin/bookings/booking/{booking.pk}/change/"

    page = admin_client.get(url)
    assert page.status_code == 200
    admin_form = page.context["adminform"]
    for name in ("amount", "quantity", "status", "timeline", "payment_and_refunds"):
        assert name in admin_form.readonly_fields
    content = page.content.decode()
    assert 'name="_save"' not in content and 'name="_continue"' not in content
    assert not page.context["inline_admin_formsets"]  # the timeline is a list, not a table

    refused = admin_client.post(url, {"amount_minor": 1, "quantity": 9, "status": "CONFIRMED"})
    assert refused.status_code == 403
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
