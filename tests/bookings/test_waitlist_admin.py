"""The waitlist admin is a read-only view for support, filterable by status and slot date."""

import pytest

from bookings.models import BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.waitlist.services import join_waitlist
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory


@pytest.fixture
def entries(make_slot, variant):
    slot = make_slot(capacity=1)
    BookingFactory(slot=slot, variant=variant, status=BookingStatus.CONFIRMED)
    waiting, left = (
        join_waitlist(customer=CustomerFactory(), slot_id=slot.pk, variant_id=variant.pk)
        for _ in range(2)
    )
    WaitlistEntry.objects.filter(pk=left.pk).update(status=WaitlistStatus.CANCELLED)
    return waiting, left


@pytest.mark.django_db
def test_changelist_filters_by_status_and_slot_date_and_searches_by_email(
    admin_client_support, entries
):
    waiting, left = entries
    url = "/admin/bookings/waitlistentry/"

    page = admin_client_support.get(url)
    assert page.status_code == 200
    assert "slot__start" in page.content.decode()
    by_status = admin_client_support.get(url, {"status__exact": "waiting"})
    assert list(by_status.context["cl"].result_list) == [waiting]
    by_email = admin_client_support.get(url, {"q": left.customer.email})
    assert list(by_email.context["cl"].result_list) == [left]


@pytest.mark.django_db
def test_entries_cannot_be_added_changed_or_deleted_from_the_admin(admin_client_support, entries):
    waiting, _ = entries
    url = f"/admin/bookings/waitlistentry/{waiting.pk}/change/"

    assert admin_client_support.get(url).status_code == 200  # view permission only
    admin_client_support.post(url, {"status": "booked", "quantity": 5})
    assert admin_client_support.get("/admin/bookings/waitlistentry/add/").status_code == 403
    admin_client_support.post(
        f"/admin/bookings/waitlistentry/{waiting.pk}/delete/", {"post": "yes"}
    )

    waiting.refresh_from_db()
    assert (waiting.status, waiting.quantity) == (WaitlistStatus.WAITING, 1)
