"""HTTP surface of cancellation: both sides, the refund in the response, races."""

import pytest

from bookings.models import Booking, BookingEvent, BookingStatus
from conftest import authed_client
from payments.models import Payment
from refunds.models import Refund
from tests.concurrency import run_concurrently
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, StaffFactory
from tests.factories.refunds import CapturedPaymentFactory


@pytest.fixture
def paid_booking(customer, make_slot, variant):
    slot = make_slot(hours=48)
    booking = BookingFactory(
        customer=customer,
        slot=slot,
        variant=variant,
        status=BookingStatus.CONFIRMED,
        assigned_staff=StaffFactory(partner=slot.partner),
    )
    CapturedPaymentFactory(booking=booking)
    return booking


def _url(booking, provider=False):
    prefix = "/api/v1/provider/bookings" if provider else "/api/v1/bookings"
    return f"{prefix}/{booking.pk}/cancel"


@pytest.mark.django_db
def test_customer_cancel_returns_the_booking_with_its_refund(
    customer_client, paid_booking, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(_url(paid_booking), {"reason": "sick"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == paid_booking.pk
    assert body["status"] == "CANCELLED"
    assert body["refund"]["amount"] == 49900
    assert body["refund"]["percent"] == 100
    assert body["refund"]["status"] in ("pending", "succeeded")
    kinds = [(e["kind"], e["to"]) for e in body["timeline"]]
    assert ("transition", "CANCELLED") in kinds
    assert ("refund_created", "") in kinds
    refund = Refund.objects.get(booking=paid_booking)
    assert refund.status == Refund.Status.SUCCEEDED  # sandbox refund ran after commit
    assert Payment.objects.get(booking=paid_booking).status == Payment.Status.REFUNDED


@pytest.mark.django_db
def test_provider_cancel_returns_the_provider_view_with_a_full_refund(paid_booking):
    client = authed_client(paid_booking.partner.user)
    response = client.post(
        _url(paid_booking, provider=True), {"reason": "staff ill"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "CANCELLED"
    assert body["customer_id"] == paid_booking.customer_id
    assert (body["refund"]["amount"], body["refund"]["percent"]) == (49900, 100)


@pytest.mark.django_db
def test_cancel_of_an_unpaid_booking_has_null_refund_fields(customer, customer_client, make_slot):
    booking = BookingFactory(customer=customer, slot=make_slot())
    response = customer_client.post(_url(booking), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["refund"] == {
        "id": None,
        "amount": None,
        "currency": None,
        "percent": None,
        "status": None,
        "policy_version": None,
    }


@pytest.mark.django_db
def test_second_cancel_from_either_side_is_409_already_cancelled(customer_client, paid_booking):
    assert customer_client.post(_url(paid_booking), {}, format="json").status_code == 200
    for client, provider in (
        (customer_client, False),
        (authed_client(paid_booking.partner.user), True),
    ):
        response = client.post(_url(paid_booking, provider=provider), {}, format="json")
        assert response.status_code == 409
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "already_cancelled"
    assert Refund.objects.filter(booking=paid_booking).count() == 1


@pytest.mark.django_db
def test_cancel_of_a_completed_booking_is_409_invalid_transition(customer_client, paid_booking):
    Booking.objects.filter(pk=paid_booking.pk).update(status=BookingStatus.COMPLETED)
    response = customer_client.post(_url(paid_booking), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_others_bookings_are_404_and_unchanged(paid_booking):
    stranger = authed_client(CustomerFactory())
    other_partner = authed_client(PartnerFactory().user)
    assert stranger.post(_url(paid_booking), {}, format="json").status_code == 404
    response = other_partner.post(_url(paid_booking, provider=True), {}, format="json")
    assert response.status_code == 404
    # The customer cannot use the provider endpoint, nor the partner the customer one.
    owner_partner = authed_client(paid_booking.partner.user)
    assert owner_partner.post(_url(paid_booking), {}, format="json").status_code == 403
    assert Booking.objects.get(pk=paid_booking.pk).status == BookingStatus.CONFIRMED


@pytest.mark.django_db
def test_reason_too_long_is_400_and_nothing_changes(customer_client, paid_booking):
    response = customer_client.post(_url(paid_booking), {"reason": "x" * 300}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert Booking.objects.get(pk=paid_booking.pk).status == BookingStatus.CONFIRMED


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_cancels_one_wins_one_refund_nineteen_409(customer, paid_booking):
    booking = paid_booking
    slot = booking.slot
    clients = [
        (authed_client(booking.partner.user), True) if i % 2 else (authed_client(customer), False)
        for i in range(20)
    ]

    def cancel(index: int) -> tuple[int, str | None]:
        client, provider = clients[index]
        response = client.post(_url(booking, provider=provider), {}, format="json")
        code = response.json().get("code") if response.status_code != 200 else None
        return response.status_code, code

    results = run_concurrently(len(clients), cancel)

    assert sorted(s for s, _ in results) == [200] + [409] * 19
    assert {c for s, c in results if s == 409} == {"already_cancelled"}
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED
    assert Refund.objects.filter(booking=booking).count() == 1
    slot.refresh_from_db()
    assert slot.booked == 0
    assert BookingEvent.objects.filter(booking=booking, to_status="CANCELLED").count() == 1
