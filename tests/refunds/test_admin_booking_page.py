"""The booking page of the support console: read-only, with its payment, refunds and
timeline, and cancel / refund pages that call the same services as the API."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from bookings.models import Booking, BookingStatus
from refunds.models import Refund
from refunds.services import refund_booking_manually
from refunds.services.terms import refund_if_cancelled_now
from tests.factories.accounts import SupportUserFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import CityFactory, PartnerFactory, SlotFactory


def page_url(booking) -> str:
    return f"/admin/bookings/booking/{booking.pk}/change/"


def cancel_url(booking) -> str:
    return f"/admin/bookings/booking/{booking.pk}/cancel/"


def refund_url(booking) -> str:
    return f"/admin/bookings/booking/{booking.pk}/refund/"


@pytest.mark.django_db
def test_booking_page_shows_payment_refunds_and_a_timeline_list_in_city_time(
    admin_client_support, captured_payment, support_user
):
    payment = captured_payment(amount=49900)
    booking = payment.booking
    refund_booking_manually(
        booking_id=booking.pk, amount_minor=10050, reason="goodwill", actor=support_user
    )

    page = admin_client_support.get(page_url(booking))

    assert page.status_code == 200
    content = page.content.decode()
    assert "INR 499.00" in content  # the booking's amount, major units
    assert "refundable now INR 398.50" in content
    assert "INR 100.50" in content and "10050" not in content
    assert '<ol class="sw-timeline">' in content
    assert "refund created" in content
    assert support_user.email in content  # who refunded, on the timeline
    assert " IST" in content  # times carry their zone
    assert 'name="_save"' not in content
    assert f'href="{cancel_url(booking)}"' in content
    assert f'href="{refund_url(booking)}"' in content


@pytest.mark.django_db
def test_slot_time_is_the_city_wall_clock_with_its_zone(admin_client_support):
    new_york = CityFactory(time_zone="America/New_York")
    start = datetime(2030, 1, 15, 14, 0, tzinfo=UTC)  # 09:00 in New York (EST)
    booking = BookingFactory(slot=SlotFactory(partner=PartnerFactory(city=new_york), start=start))

    listing = admin_client_support.get("/admin/bookings/booking/").content.decode()
    page = admin_client_support.get(page_url(booking)).content.decode()

    assert "15 Jan 2030, 09:00 EST" in listing
    assert "15 Jan 2030, 09:00 EST" in page
    assert "14:00" not in listing


@pytest.mark.django_db
def test_cancel_for_the_customer_goes_through_cancel_booking_with_the_customers_refund(
    admin_client_support, captured_payment, support_user, django_capture_on_commit_callbacks
):
    payment = captured_payment(amount=49900)
    booking = payment.booking
    expected = refund_if_cancelled_now(booking=Booking.objects.get(pk=booking.pk))
    form = admin_client_support.get(cancel_url(booking))
    assert form.status_code == 200
    assert f"refund {expected['percent']} % now" in form.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client_support.post(
            cancel_url(booking), {"on_behalf_of": "customer", "reason": "customer called"}
        )

    assert (done.status_code, done.url) == (302, page_url(booking))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    refund = Refund.objects.get(booking=booking)
    assert (refund.source, refund.amount_minor, refund.created_by) == (
        Refund.Source.CANCELLATION,
        expected["amount"],
        support_user,
    )
    assert refund.reason == "Cancelled by customer (support): customer called"
    event = booking.events.get(to_status=BookingStatus.CANCELLED)
    assert event.actor == support_user
    assert event.data == {"cancelled_by": "customer", "on_behalf": True}


@pytest.mark.django_db
def test_cancel_for_the_partner_refunds_the_partner_cancel_percentage(
    admin_client_support, captured_payment
):
    payment = captured_payment(amount=49900)  # no other partner to reassign to
    done = admin_client_support.post(
        cancel_url(payment.booking), {"on_behalf_of": "provider", "reason": "partner is ill"}
    )
    assert done.status_code == 302
    refund = Refund.objects.get(booking=payment.booking)
    assert (refund.amount_minor, refund.percent) == (49900, 100)  # provider_cancel_percent


@pytest.mark.django_db
def test_a_refused_cancel_shows_the_service_message_and_changes_nothing(
    admin_client_support, captured_payment
):
    payment = captured_payment(amount=49900)
    booking = payment.booking
    first = admin_client_support.post(
        cancel_url(booking), {"on_behalf_of": "customer", "reason": "first"}
    )
    assert first.status_code == 302
    page = admin_client_support.get(page_url(booking)).content.decode()
    assert f'href="{cancel_url(booking)}"' not in page  # nothing left to cancel

    again = admin_client_support.post(
        cancel_url(booking), {"on_behalf_of": "customer", "reason": "again"}
    )

    assert again.status_code == 200
    assert "already cancelled" in again.content.decode().lower()
    assert Refund.objects.filter(booking=booking).count() == 1
    assert booking.events.filter(to_status=BookingStatus.CANCELLED).count() == 1
    bad = admin_client_support.post(cancel_url(booking), {"on_behalf_of": "admin", "reason": "x"})
    assert bad.status_code == 200 and bad.context["form"].errors["on_behalf_of"]


@pytest.mark.django_db
def test_refund_page_shows_what_is_refundable_and_takes_major_units(
    admin_client_support, captured_payment, support_user, django_capture_on_commit_callbacks
):
    payment = captured_payment(amount=49900)
    booking = payment.booking
    form = admin_client_support.get(refund_url(booking))
    assert form.status_code == 200
    content = form.content.decode()
    assert "refundable now INR 499.00" in content
    assert "In INR" in content  # the amount field says its currency

    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client_support.post(
            refund_url(booking), {"amount": "100.50", "reason": "late arrival"}
        )

    assert (done.status_code, done.url) == (302, page_url(booking))
    refund = Refund.objects.get(booking=booking)
    assert (refund.amount_minor, refund.source, refund.created_by, refund.status) == (
        10050,
        Refund.Source.MANUAL,
        support_user,
        Refund.Status.SUCCEEDED,
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("100.505", "at most 2 decimal"),
        ("-5", "Enter an amount in INR"),
        ("0", "at least INR 0.01"),
        ("499.01", "exceed the captured amount"),
    ],
)
@pytest.mark.django_db
def test_refund_page_refuses_a_bad_amount_and_changes_nothing(
    admin_client_support, captured_payment, amount, message
):
    payment = captured_payment(amount=49900)
    refused = admin_client_support.post(
        refund_url(payment.booking), {"amount": amount, "reason": "x"}
    )
    assert refused.status_code == 200
    assert message in refused.content.decode()
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_cancel_and_refund_need_their_permissions(captured_payment):
    payment = captured_payment(amount=49900)
    booking = payment.booking
    group = Group.objects.create(name="lookers")
    group.permissions.set(Permission.objects.filter(codename__in=["view_booking", "view_refund"]))
    user = SupportUserFactory(is_superuser=False)
    user.groups.add(group)
    client = Client()
    client.force_login(user)

    page = client.get(page_url(booking))
    assert page.status_code == 200
    assert cancel_url(booking) not in page.content.decode()
    assert refund_url(booking) not in page.content.decode()
    assert client.get(cancel_url(booking)).status_code == 403
    assert (
        client.post(cancel_url(booking), {"on_behalf_of": "customer", "reason": "x"}).status_code
        == 403
    )
    assert client.post(refund_url(booking), {"amount": "1.00", "reason": "x"}).status_code == 403

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert not Refund.objects.exists()

    # Staff who may refund (not superusers) may also cancel: the cancellation's refund.
    group.permissions.add(Permission.objects.get(codename="add_refund"))
    user = type(user).objects.get(pk=user.pk)  # permissions are cached per user object
    client.force_login(user)
    assert cancel_url(booking) in client.get(page_url(booking)).content.decode()
    done = client.post(cancel_url(booking), {"on_behalf_of": "customer", "reason": "x"})
    assert done.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


@pytest.mark.django_db
def test_refund_a_booking_from_the_refunds_list_chooses_the_booking_instead_of_typing_it(
    admin_client_support, captured_payment
):
    payment = captured_payment(amount=49900)
    start = admin_client_support.get("/admin/refunds/refund/manual/")
    assert start.status_code == 200
    assert "admin-autocomplete" in start.content.decode()  # searched as you type
    chosen = admin_client_support.post(
        "/admin/refunds/refund/manual/", {"booking": payment.booking_id}
    )
    assert (chosen.status_code, chosen.url) == (302, refund_url(payment.booking))
    unknown = admin_client_support.post("/admin/refunds/refund/manual/", {"booking": 999999})
    assert unknown.status_code == 200 and unknown.context["form"].errors["booking"]


@pytest.mark.django_db
def test_lists_show_money_in_major_units_with_the_currency(
    admin_client_support, captured_payment, support_user
):
    payment = captured_payment(amount=49900)
    refund_booking_manually(
        booking_id=payment.booking_id, amount_minor=10050, reason="goodwill", actor=support_user
    )
    for url, shown in (
        ("/admin/bookings/booking/", "INR 499.00"),
        ("/admin/payments/payment/", "INR 499.00"),
        ("/admin/refunds/refund/", "INR 100.50"),
        (f"/admin/payments/payment/{payment.pk}/change/", "INR 499.00"),
    ):
        content = admin_client_support.get(url).content.decode()
        assert shown in content, url
        assert ">49900<" not in content and ">10050<" not in content, url
