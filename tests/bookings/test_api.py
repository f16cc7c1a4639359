"""HTTP surface of the booking core: create, idempotency, lists, assignment."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking, BookingEvent, BookingStatus
from common.models import IdempotencyKey
from conftest import authed_client
from partners.models import ServiceVariant
from payments.models import Payment
from tests.concurrency import run_concurrently
from tests.factories.accounts import CustomerFactory, PartnerUserFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory, offer

URL = "/api/v1/bookings"


def _body(slot, variant, **extra):
    return {"slot_id": slot.pk, "variant_id": variant.pk, **extra}


def _nothing_written(slot):
    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Booking.objects.exists()
    assert not BookingEvent.objects.exists()
    assert not Payment.objects.exists()


# --- create ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_create_holds_the_seats_and_returns_the_booking_with_its_payment(
    customer_client, customer, make_slot, variant
):
    slot = make_slot(capacity=4)

    response = customer_client.post(URL, _body(slot, variant, quantity=2), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    booking = Booking.objects.get()
    assert body["id"] == booking.pk
    assert body["status"] == "PENDING_PAYMENT"
    assert (body["slot_id"], body["partner_id"], body["variant_id"]) == (
        slot.pk,
        slot.partner_id,
        variant.pk,
    )
    assert (body["quantity"], body["amount"], body["currency"]) == (2, 99800, "INR")
    assert body["assigned_staff_id"] is None
    assert body["hold_expires_at"]
    assert body["payment"]["gateway"] == "sandbox"
    assert body["payment"]["order_id"] == Payment.objects.get(booking=booking).order_id
    assert body["payment"]["status"]
    assert [event["kind"] for event in body["timeline"]][0] == "created"
    assert body["timeline"][0]["to"] == "PENDING_PAYMENT"
    slot.refresh_from_db()
    assert slot.booked == 2
    assert booking.customer == customer


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "slot_id"),
        ({"slot_id": "abc", "variant_id": 1}, "slot_id"),
        ({"slot_id": 1}, "variant_id"),
        ({"slot_id": 1, "variant_id": 1, "quantity": 0}, "quantity"),
        ({"slot_id": 1, "variant_id": 1, "quantity": "two"}, "quantity"),
        ({"slot_id": 1, "variant_id": 1, "gateway": "paypal"}, "gateway"),
    ],
)
def test_invalid_input_is_a_400_problem_and_writes_nothing(
    customer_client, slot, variant, payload, field
):
    payload = {
        key: (slot.pk if key == "slot_id" and value == 1 else value)
        for key, value in payload.items()
    }
    if payload.get("variant_id") == 1:
        payload["variant_id"] = variant.pk

    response = customer_client.post(URL, payload, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert field in problem["errors"]
    _nothing_written(slot)


@pytest.mark.django_db
def test_malformed_json_is_a_400_problem(customer_client, slot):
    response = customer_client.post(URL, "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    _nothing_written(slot)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown_slot", 404, "slot_not_found"),
        ("past", 400, "slot_in_past"),
        ("blocked", 409, "slot_blocked"),
        ("not_offered", 400, "variant_not_offered"),
        ("too_long", 400, "variant_does_not_fit"),
        ("full", 409, "slot_unavailable"),
        ("too_many", 409, "slot_unavailable"),
    ],
)
def test_business_rule_violations_have_their_own_code(
    customer_client, make_slot, variant, case, status, code
):
    slot = make_slot(
        hours=-2 if case == "past" else 48,
        blocked=case == "blocked",
        capacity=2,
        booked=2 if case == "full" else 0,
    )
    body = _body(slot, variant, quantity=3 if case == "too_many" else 1)
    if case == "unknown_slot":
        body["slot_id"] = 99999999
    if case == "not_offered":
        body["variant_id"] = ServiceVariantFactory().pk
    if case == "too_long":  # the slot is one hour long
        longer = ServiceVariantFactory(
            service=variant.service, tier=ServiceVariant.Tier.PREMIUM, duration_minutes=180
        )
        body["variant_id"] = offer(slot.partner, longer).variant_id

    response = customer_client.post(URL, body, format="json")

    assert response.status_code == status
    assert response.json()["code"] == code
    slot.refresh_from_db()
    assert slot.booked == (2 if case == "full" else 0)
    assert not Booking.objects.exists()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_only_customers_can_book(slot, variant):
    partner_client = authed_client(PartnerFactory().user)
    assert partner_client.post(URL, _body(slot, variant), format="json").status_code == 403
    assert APIClient().post(URL, _body(slot, variant), format="json").status_code == 401
    _nothing_written(slot)


# --- idempotency over the API ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_retry_with_the_same_key_replays_the_first_response(customer_client, make_slot, variant):
    slot = make_slot(capacity=3)
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-42"}

    first = customer_client.post(URL, _body(slot, variant), format="json", **headers)
    again = customer_client.post(URL, _body(slot, variant), format="json", **headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1
    assert Payment.objects.count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.django_db(transaction=True)
def test_same_key_with_another_body_is_a_422_and_books_nothing_more(
    customer_client, make_slot, variant
):
    slot = make_slot(capacity=3)
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-43"}
    customer_client.post(URL, _body(slot, variant), format="json", **headers)

    response = customer_client.post(URL, _body(slot, variant, quantity=2), format="json", **headers)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_mismatch"
    assert Booking.objects.count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_make_one_booking(customer, make_slot, variant):
    slot = make_slot(capacity=20)
    count = 20
    clients = [authed_client(customer) for _ in range(count)]

    responses = run_concurrently(
        count,
        lambda i: clients[i].post(
            URL, _body(slot, variant), format="json", HTTP_IDEMPOTENCY_KEY="same-key"
        ),
    )

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [json.loads(r.content) for r in responses if r.status_code == 201]
    assert created and all(body == created[0] for body in created)
    for conflict in (r for r in responses if r.status_code == 409):
        assert json.loads(conflict.content)["code"] == "idempotency_key_in_use"
    assert Booking.objects.count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1
    assert IdempotencyKey.objects.get().state == "completed"
    # Once the first finished, the key replays it.
    late = authed_client(customer).post(
        URL, _body(slot, variant), format="json", HTTP_IDEMPOTENCY_KEY="same-key"
    )
    assert late.status_code == 201
    assert late.json() == created[0]


@pytest.mark.django_db(transaction=True)
def test_a_409_outcome_is_replayed_not_retried(customer_client, make_slot, variant):
    slot = make_slot(capacity=1, booked=1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "full-slot"}
    first = customer_client.post(URL, _body(slot, variant), format="json", **headers)
    slot.booked = 0
    slot.save()  # room again, but the stored outcome of this key is final

    again = customer_client.post(URL, _body(slot, variant), format="json", **headers)

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not Booking.objects.exists()


# --- concurrency over HTTP ------------------------------------------------------------------


def _customer_clients(count: int, settings) -> list[APIClient]:
    """One authenticated client per thread for ``count`` distinct customers (built before
    the barrier; a test client is not shared between threads)."""
    # JWT auth never checks a password: skip the slow hasher for the 50 test users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return [authed_client(user) for user in CustomerFactory.create_batch(count)]


@pytest.mark.django_db(transaction=True)
def test_fifty_customers_posting_for_one_seat_get_one_201_and_49_slot_unavailable(
    make_slot, variant, settings
):
    slot = make_slot(capacity=1)
    clients = _customer_clients(50, settings)

    responses = run_concurrently(
        50, lambda i: clients[i].post(URL, _body(slot, variant), format="json")
    )

    assert sorted(r.status_code for r in responses) == [201] + [409] * 49
    for refusal in (r for r in responses if r.status_code == 409):
        assert json.loads(refusal.content)["code"] == "slot_unavailable"
    slot.refresh_from_db()
    assert slot.booked == 1
    booking = Booking.objects.get()
    assert Payment.objects.get().booking == booking
    (winner,) = (r for r in responses if r.status_code == 201)
    assert json.loads(winner.content)["id"] == booking.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_random_quantities_never_oversell_and_add_up(
    make_slot, variant, settings
):
    slot = make_slot(capacity=5)
    count = 30
    quantities = [random.Random(i).randint(1, 3) for i in range(count)]
    clients = _customer_clients(count, settings)

    responses = run_concurrently(
        count,
        lambda i: clients[i].post(URL, _body(slot, variant, quantity=quantities[i]), format="json"),
    )

    assert {r.status_code for r in responses} <= {201, 409}, [r.content for r in responses]
    for refusal in (r for r in responses if r.status_code == 409):
        assert json.loads(refusal.content)["code"] == "slot_unavailable"
    won = [json.loads(r.content) for r in responses if r.status_code == 201]
    seats = sum(body["quantity"] for body in won)
    slot.refresh_from_db()
    assert slot.booked == seats
    assert slot.booked <= slot.capacity
    assert sorted(Booking.objects.filter(slot=slot).values_list("pk", flat=True)) == sorted(
        body["id"] for body in won
    )
    assert sum(Booking.objects.filter(slot=slot).values_list("quantity", flat=True)) == seats
    assert Payment.objects.count() == len(won)
    # Every refusal saw fewer free seats than it asked for, so no 3-seat gap is left.
    assert slot.capacity - slot.booked < 3


# --- lists and details ----------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_sees_only_own_bookings(customer, customer_client):
    mine = BookingFactory(customer=customer)
    theirs = BookingFactory()

    listing = customer_client.get(URL)
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["results"]] == [mine.pk]
    assert "timeline" not in listing.json()["results"][0]

    detail = customer_client.get(f"{URL}/{mine.pk}")
    assert detail.status_code == 200
    assert detail.json()["id"] == mine.pk
    assert "timeline" in detail.json()

    other = customer_client.get(f"{URL}/{theirs.pk}")
    assert other.status_code == 404
    assert other.json()["code"] == "booking_not_found"


@pytest.mark.django_db
def test_partner_sees_only_own_bookings_with_the_customer(customer):
    partner = PartnerFactory()
    mine = BookingFactory(slot=SlotFactory(partner=partner), customer=customer)
    theirs = BookingFactory()
    client = authed_client(partner.user)

    listing = client.get("/api/v1/provider/bookings")
    assert listing.status_code == 200
    results = listing.json()["results"]
    assert [item["id"] for item in results] == [mine.pk]
    assert results[0]["customer_id"] == customer.pk

    assert client.get(f"/api/v1/provider/bookings/{mine.pk}").status_code == 200
    assert client.get(f"/api/v1/provider/bookings/{theirs.pk}").status_code == 404
    # A customer is not a partner, and a partner has no customer bookings list.
    assert authed_client(customer).get("/api/v1/provider/bookings").status_code == 403
    assert client.get(URL).status_code == 403


@pytest.mark.django_db
def test_provider_detail_has_the_timeline_and_the_list_filters_by_status(
    customer, partner, make_slot, variant
):
    from bookings.services import book_slot
    from bookings.transitions import transition_booking

    pending = book_slot(customer=customer, slot_id=make_slot().pk, variant_id=variant.pk)
    confirmed = book_slot(customer=customer, slot_id=make_slot(hours=72).pk, variant_id=variant.pk)
    transition_booking(
        booking_id=confirmed.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.CONFIRMED,
        actor_label="sandbox",
        reason="captured",
    )
    BookingFactory(status=BookingStatus.CONFIRMED)  # another partner's
    client = authed_client(partner.user)

    detail = client.get(f"/api/v1/provider/bookings/{pending.pk}")
    assert detail.status_code == 200
    body = detail.json()
    assert (body["id"], body["status"], body["customer_id"]) == (
        pending.pk,
        "PENDING_PAYMENT",
        customer.pk,
    )
    first = body["timeline"][0]
    assert (first["kind"], first["from"], first["to"], first["actor"]) == (
        "created",
        "",
        "PENDING_PAYMENT",
        "customer",
    )
    timeline = client.get(f"/api/v1/provider/bookings/{confirmed.pk}").json()["timeline"]
    assert [(e["kind"], e["from"], e["to"]) for e in timeline] == [
        ("created", "", "PENDING_PAYMENT"),
        ("transition", "PENDING_PAYMENT", "CONFIRMED"),
    ]

    def ids(status):
        response = client.get("/api/v1/provider/bookings", {"status": status})
        assert response.status_code == 200, response.content
        return sorted(item["id"] for item in response.json()["results"])

    assert ids("CONFIRMED") == [confirmed.pk]
    assert ids("PENDING_PAYMENT") == [pending.pk]
    assert ids("confirmed,pending_payment") == sorted([pending.pk, confirmed.pk])
    assert ids("CANCELLED") == []


@pytest.mark.django_db
def test_detail_carries_the_timeline_in_order(customer, customer_client, slot, variant):
    from bookings.transitions import transition_booking

    booking = BookingFactory(customer=customer, slot=slot, variant=variant)
    transition_booking(
        booking_id=booking.pk,
        from_statuses=[BookingStatus.PENDING_PAYMENT],
        to_status=BookingStatus.CONFIRMED,
        actor_label="sandbox",
        reason="captured",
    )

    timeline = customer_client.get(f"{URL}/{booking.pk}").json()["timeline"]

    assert timeline[-1] == {
        "kind": "transition",
        "from": "PENDING_PAYMENT",
        "to": "CONFIRMED",
        "actor": "sandbox",
        "reason": "captured",
        "at": timeline[-1]["at"],
    }


@pytest.mark.django_db
def test_lists_filter_by_status_and_local_date(customer, customer_client, partner, variant):
    day = datetime.combine(
        (timezone.now() + timedelta(days=5)).date(), datetime.min.time(), tzinfo=UTC
    )
    # 20:00 UTC is 01:30 the next day in Bengaluru (the partner's city).
    late_utc = BookingFactory(
        customer=customer,
        variant=variant,
        slot=SlotFactory(partner=partner, start=day + timedelta(hours=20)),
    )
    morning = BookingFactory(
        customer=customer,
        variant=variant,
        status=BookingStatus.CONFIRMED,
        slot=SlotFactory(partner=partner, start=day + timedelta(hours=4)),
    )
    next_day = (day + timedelta(days=1)).date().isoformat()

    def ids(query):
        response = customer_client.get(URL, query)
        assert response.status_code == 200, response.content
        return sorted(item["id"] for item in response.json()["results"])

    assert ids({"status": "CONFIRMED"}) == [morning.pk]
    assert ids({"status": "confirmed,pending_payment"}) == sorted([morning.pk, late_utc.pk])
    assert ids({"date": day.date().isoformat()}) == [morning.pk]
    assert ids({"date": next_day}) == [late_utc.pk]
    assert ids({"date": next_day, "status": "CONFIRMED"}) == []
    assert ids({"from": (day + timedelta(hours=12)).isoformat()}) == [late_utc.pk]
    assert ids({"to": (day + timedelta(hours=12)).isoformat()}) == [morning.pk]
    partner_client = authed_client(partner.user)
    response = partner_client.get("/api/v1/provider/bookings", {"date": next_day})
    assert [item["id"] for item in response.json()["results"]] == [late_utc.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [{"status": "NOPE"}, {"date": "2026-13-01"}, {"from": "yesterday"}, {"page_size": "1000"}],
)
def test_bad_list_filters_are_400_problems(customer_client, query):
    response = customer_client.get(URL, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


# --- assignment -----------------------------------------------------------------------------

ASSIGN = "/api/v1/partners/assign"


@pytest.mark.django_db
def test_assign_returns_the_best_partner_and_its_slot(customer_client, city, service, variant):
    start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    low = PartnerFactory(city=city, services=[service], rating="4.00")
    high = PartnerFactory(city=city, services=[service], rating="4.80")
    SlotFactory(partner=low, start=start)
    best = SlotFactory(partner=high, start=start, capacity=3, booked=1)

    response = customer_client.post(
        ASSIGN, {"city": city.slug, "service": service.slug, "variant": variant.pk}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["partner"]["id"] == high.pk
    assert body["partner"]["rating"] == 4.8  # a JSON number, as in the partner list
    assert body["slot"]["id"] == best.pk
    assert (body["slot"]["available"], body["slot"]["partner_id"]) == (2, high.pk)
    assert body["day_bookings"] == 0


@pytest.mark.django_db
def test_assign_with_a_variant_picks_the_earliest_slot_it_fits_in(
    customer_client, city, service, variant
):
    premium = ServiceVariantFactory(
        service=service, tier=ServiceVariant.Tier.PREMIUM, duration_minutes=180
    )
    start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    hour = SlotFactory(partner=PartnerFactory(city=city, services=[service]), start=start)
    long = SlotFactory(
        partner=PartnerFactory(city=city, services=[service]),
        start=start + timedelta(hours=2),
        end=start + timedelta(hours=5),
    )

    def assigned(**extra):
        body = {"city": city.slug, "service": service.slug, **extra}
        response = customer_client.post(ASSIGN, body, format="json")
        assert response.status_code == 200, response.content
        return response.json()["slot"]["id"]

    assert assigned(variant=premium.pk) == long.pk
    assert assigned(variant=variant.pk) == hour.pk
    assert assigned() == hour.pk  # the shortest variant (60 min) fits the 1-hour slot
    booked = customer_client.post(URL, _body(long, premium), format="json")
    assert booked.status_code == 201, booked.content


@pytest.mark.django_db
def test_assign_without_a_fitting_slot_is_404_no_partner_available(
    customer_client, city, service, partner
):
    SlotFactory(partner=partner, blocked=True)
    response = customer_client.post(
        ASSIGN, {"city": city.slug, "service": service.slug}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "no_partner_available"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"service": "home-cleaning"},
        {"city": "atlantis", "service": "home-cleaning"},
        {"city": "bengaluru", "service": "nope"},
        {"city": "bengaluru", "service": "home-cleaning", "from": "soon"},
        {
            "city": "bengaluru",
            "service": "home-cleaning",
            "from": "2030-01-02T00:00:00Z",
            "to": "2030-01-01T00:00:00Z",
        },
    ],
)
def test_assign_bad_input_is_400(customer_client, city, service, payload):
    response = customer_client.post(ASSIGN, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.django_db
def test_assign_variant_of_another_service_is_400(customer_client, city, service):
    other_variant = ServiceVariantFactory()
    response = customer_client.post(
        ASSIGN,
        {"city": city.slug, "service": service.slug, "variant": other_variant.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "variant" in response.json()["errors"]


@pytest.mark.django_db
def test_assign_is_for_customers(city, service):
    response = authed_client(PartnerUserFactory()).post(
        ASSIGN, {"city": city.slug, "service": service.slug}, format="json"
    )
    assert response.status_code == 403
