import pytest
from django.core import mail

from notifications.models import OutboxMessage
from otp.models import BookingOtp
from tests.factories.otp import confirmed_booking, last_code

pytestmark = pytest.mark.django_db


def test_admin_shows_otp_status_but_never_the_hash_and_cannot_edit(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = confirmed_booking()
    code = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
    otp = BookingOtp.objects.get(booking=booking)

    listing = admin_client.get("/admin/otp/bookingotp/")
    detail = admin_client.get(f"/admin/otp/bookingotp/{otp.pk}/change/")
    assert listing.status_code == detail.status_code == 200
    for page in (listing.content.decode(), detail.content.decode()):
        assert otp.code_hash not in page
        assert code not in page
    assert "active" in listing.content.decode()
    assert admin_client.get("/admin/otp/bookingotp/add/").status_code == 403

    response = admin_client.post(f"/admin/otp/bookingotp/{otp.pk}/change/", {"attempts": 0})
    assert response.status_code == 403
    assert BookingOtp.objects.get(pk=otp.pk).code_hash == otp.code_hash


def test_outbox_admin_lists_messages_with_filters(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booking = confirmed_booking()
    response = admin_client.get("/admin/notifications/outboxmessage/?status=sent&channel=email")
    assert response.status_code == 200
    page = response.content.decode()
    assert booking.customer.email in page and "otp.arrival" in page


def test_no_admin_page_shows_a_sent_code(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booking = confirmed_booking()
    code = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
    message = OutboxMessage.objects.get(booking=booking, kind="otp.arrival")
    assert message.status == OutboxMessage.Status.SENT

    pages = [
        "/admin/notifications/outboxmessage/",
        f"/admin/notifications/outboxmessage/{message.pk}/change/",
        "/admin/bookings/booking/",
        f"/admin/bookings/booking/{booking.pk}/change/",
        "/admin/otp/bookingotp/",
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert code not in response.content.decode(), page
