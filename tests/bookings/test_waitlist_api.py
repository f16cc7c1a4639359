"""Waitlist HTTP surface: joining a full slot, listing and leaving one's own entries."""

import pytest

from bookings.models import Booking, BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.transitions import transition_booking
from conftest import authed_client
from partners.models import ServiceVariant
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import ServiceVariantFactory, offer

JOIN = "/api/v1/slots/{}/waitlist"
LIST = "/api/v1/waitlist"
DETAIL = "/api/v1/waitlist/{}"


@pytest.fixture
def full_slot(make_slot, variant):
    slot = make_slot(capacity=2)
    BookingFactory(slot=slot, variant=variant, quantity=2, status=BookingStatus.CONFIRMED)
    return slot


def _join(client, slot, variant, **extra):
    return client.post(JOIN.format(slot.pk), {"variant_id": variant.pk, **extra}, format="json")


def _assert_no_entry_and_slot_unchanged(slot, booked):
    assert not WaitlistEntry.objects.exists()
    slot.refresh_from_db()
    assert slot.booked == booked


@pytest.mark.django_db
def test_joining_a_full_slot_returns_the_entry_with_its_place_in_line(
    customer_client, customer, full_slot, variant
):
    other = CustomerFactory()
    first = _join(authed_client(other), full_slot, variant)
    response = _join(customer_client, full_slot, variant, quantity=2)

    assert first.status_code == 201, first.content
    assert response.status_code == 201, response.content
    body = response.json()
    entry = WaitlistEntry.objects.get(customer=customer)
    assert body["id"] == entry.pk
    assert (body["slot_id"], body["variant_id"], body["quantity"]) == (
        full_slot.pk,
        variant.pk,
        2,
    )
    assert body["status"] == "waiting"
    assert body["position"] == 2
    assert body["offered_booking_id"] is None
    assert body["offer_expires_at"] is None
    assert first.json()["position"] == 1
    full_slot.refresh_from_db()
    assert full_slot.booked == 2
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_joining_when_fewer_seats_are_free_than_asked_for_is_allowed(
    customer_client, make_slot, variant
):
    slot = make_slot(capacity=3)
    BookingFactory(slot=slot, variant=variant, quantity=2, status=BookingStatus.CONFIRMED)

    assert _join(customer_client, slot, variant, quantity=2).status_code == 201
    assert _join(customer_client, slot, variant, quantity=1).status_code == 409


@pytest.mark.django_db
def test_joining_a_slot_with_room_is_409_slot_has_room_and_writes_nothing(
    customer_client, make_slot, variant
):
    slot = make_slot(capacity=3)
    BookingFactory(slot=slot, variant=variant, quantity=1, status=BookingStatus.CONFIRMED)

    response = _join(customer_client, slot, variant, quantity=2)

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "slot_has_room"
    _assert_no_entry_and_slot_unchanged(slot, booked=1)


@pytest.mark.django_db
def test_joining_twice_is_409_already_waitlisted_and_keeps_one_entry(
    customer_client, customer, full_slot, variant
):
    assert _join(customer_client, full_slot, variant).status_code == 201

    response = _join(customer_client, full_slot, variant, quantity=2)

    assert response.status_code == 409
    assert response.json()["code"] == "already_waitlisted"
    entry = WaitlistEntry.objects.get()
    assert (entry.customer_id, entry.quantity, entry.status) == (customer.pk, 1, "waiting")


@pytest.mark.django_db
def test_a_retry_with_the_same_idempotency_key_replays_the_entry(
    customer_client, full_slot, variant
):
    first = customer_client.post(
        JOIN.format(full_slot.pk),
        {"variant_id": variant.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="join-1",
    )
    retry = customer_client.post(
        JOIN.format(full_slot.pk),
        {"variant_id": variant.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="join-1",
    )

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert WaitlistEntry.objects.count() == 1


@pytest.mark.django_db
def test_after_leaving_the_customer_can_join_again_at_the_back(
    customer_client, customer, full_slot, variant
):
    first = _join(customer_client, full_slot, variant).json()
    assert customer_client.delete(DETAIL.format(first["id"])).status_code == 204
    _join(authed_client(CustomerFactory()), full_slot, variant)

    again = _join(customer_client, full_slot, variant)

    assert again.status_code == 201
    assert again.json()["position"] == 2
    statuses = dict(WaitlistEntry.objects.filter(customer=customer).values_list("pk", "status"))
    assert statuses == {first["id"]: "cancelled", again.json()["id"]: "waiting"}


@pytest.mark.django_db
def test_past_blocked_unknown_slot_and_foreign_variant_are_rejected_like_booking(
    customer_client, make_slot, variant, partner
):
    past = make_slot(capacity=1, hours=-1)
    blocked = make_slot(capacity=1, blocked=True, hours=50)
    full = make_slot(capacity=1, hours=52)
    BookingFactory(slot=full, variant=variant, status=BookingStatus.CONFIRMED)
    foreign = ServiceVariantFactory()  # a service the partner does not offer
    too_long = ServiceVariantFactory(  # the slot is one hour long
        service=variant.service, tier=ServiceVariant.Tier.PREMIUM, duration_minutes=61
    )
    offer(full.partner, too_long)

    cases = [
        (_join(customer_client, past, variant), 400, "slot_in_past"),
        (_join(customer_client, blocked, variant), 409, "slot_blocked"),
        (_join(customer_client, full, foreign), 400, "variant_not_offered"),
        (_join(customer_client, full, too_long), 400, "variant_does_not_fit"),
        (
            customer_client.post(JOIN.format(999999), {"variant_id": variant.pk}, format="json"),
            404,
            "slot_not_found",
        ),
        (_join(customer_client, full, variant, quantity=0), 400, "validation_error"),
    ]

    for response, status, code in cases:
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert not WaitlistEntry.objects.exists()
    full.refresh_from_db()
    assert full.booked == 1


@pytest.mark.django_db
def test_only_customers_may_join(full_slot, variant, partner):
    response = _join(authed_client(partner.user), full_slot, variant)

    assert response.status_code == 403
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
def test_the_list_shows_only_the_customers_own_entries(customer_client, full_slot, variant):
    theirs = _join(authed_client(CustomerFactory()), full_slot, variant).json()
    mine = _join(customer_client, full_slot, variant).json()

    response = customer_client.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [mine["id"]]
    assert body["results"][0]["position"] == 2
    assert body["results"][0]["slot_start"]
    assert theirs["id"] != mine["id"]


@pytest.mark.django_db
def test_another_customers_entry_is_404_to_read_and_to_leave(customer_client, full_slot, variant):
    theirs = _join(authed_client(CustomerFactory()), full_slot, variant).json()

    assert customer_client.get(DETAIL.format(theirs["id"])).status_code == 404
    response = customer_client.delete(DETAIL.format(theirs["id"]))

    assert response.status_code == 404
    assert WaitlistEntry.objects.get(pk=theirs["id"]).status == WaitlistStatus.WAITING


@pytest.mark.django_db
def test_leaving_moves_the_next_customer_up_and_repeating_it_is_a_no_op(
    customer_client, full_slot, variant
):
    other_client = authed_client(CustomerFactory())
    mine = _join(customer_client, full_slot, variant).json()
    theirs = _join(other_client, full_slot, variant).json()

    assert customer_client.delete(DETAIL.format(mine["id"])).status_code == 204
    assert customer_client.delete(DETAIL.format(mine["id"])).status_code == 204

    assert WaitlistEntry.objects.get(pk=mine["id"]).status == WaitlistStatus.CANCELLED
    assert customer_client.get(DETAIL.format(mine["id"])).json()["position"] is None
    assert other_client.get(DETAIL.format(theirs["id"])).json()["position"] == 1


@pytest.mark.django_db
def test_an_offered_entry_cannot_be_left(
    customer_client, full_slot, variant, django_capture_on_commit_callbacks
):
    mine = _join(customer_client, full_slot, variant).json()
    with django_capture_on_commit_callbacks(execute=True):
        transition_booking(
            booking_id=Booking.objects.get().pk,
            from_statuses=[BookingStatus.CONFIRMED],
            to_status=BookingStatus.CANCELLED,
            actor_label="test",
            release_seats=True,
        )
    entry = WaitlistEntry.objects.get(pk=mine["id"])
    assert entry.status == WaitlistStatus.OFFERED

    response = customer_client.delete(DETAIL.format(mine["id"]))

    assert response.status_code == 409
    assert response.json()["code"] == "waitlist_entry_not_waiting"
    assert f"#{entry.offered_booking_id}" in response.json()["detail"]
    assert WaitlistEntry.objects.get(pk=mine["id"]).status == WaitlistStatus.OFFERED
