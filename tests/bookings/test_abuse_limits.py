"""Per-user rate limits and the cap on unpaid bookings (issue 13 #10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from conftest import authed_client
from partners.models import Slot
from tests.common.test_problem_details import assert_problem
from tests.concurrency import run_concurrently
from tests.factories.accounts import CustomerFactory
from tests.factories.otp import confirmed_booking

pytestmark = pytest.mark.django_db


def frozen(delta=timedelta(0)):
    """Time stands still (at now + ``delta``): no window can pass during a test."""
    return time_machine.travel(timezone.now() + delta, tick=False)


def rates(**overrides):
    from django.conf import settings

    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **overrides}
    return override_settings(REST_FRAMEWORK=rest)


def book(client, slot, variant):
    return client.post(
        "/api/v1/bookings", {"slot_id": slot.pk, "variant_id": variant.pk}, format="json"
    )


def test_bookings_over_the_rate_are_429_with_retry_after_and_book_nothing(
    make_slot, variant, customer_client
):
    slots = [make_slot(capacity=5, hours=48 + 2 * i) for i in range(3)]
    with frozen(), rates(booking="2/hour"):
        first = [book(customer_client, slot, variant) for slot in slots[:2]]
        third = book(customer_client, slots[2], variant)
        other = book(authed_client(CustomerFactory()), slots[2], variant)

    assert [r.status_code for r in first] == [201, 201]
    assert_problem(third, 429, "throttled")
    assert 0 < int(third["Retry-After"]) <= 3600
    assert other.status_code == 201  # per user, not global
    assert Slot.objects.get(pk=slots[2].pk).booked == 1
    assert Booking.objects.count() == 3


def test_the_window_passes_and_the_user_may_book_again(make_slot, variant, customer):
    slots = [make_slot(capacity=5, hours=48 + 2 * i) for i in range(2)]
    with rates(booking="1/hour"):
        with frozen():
            client = authed_client(customer)
            assert book(client, slots[0], variant).status_code == 201
            assert book(client, slots[1], variant).status_code == 429
        with frozen(timedelta(minutes=61)):
            client = authed_client(customer)
            assert book(client, slots[1], variant).status_code == 201


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [
        ("waitlist", "post", "/api/v1/slots/{slot}/waitlist"),
        ("cancel", "post", "/api/v1/bookings/{booking}/cancel"),
        ("otp", "post", "/api/v1/bookings/{booking}/verify-completion"),
        ("payment_verify", "post", "/api/v1/bookings/{booking}/payment/verify"),
    ],
)
def test_waitlist_cancel_otp_and_payment_verify_are_rate_limited_per_user(
    customer, customer_client, scope, method, path
):
    booking = confirmed_booking(customer=customer)
    url = path.format(slot=booking.slot_id, booking=booking.pk)
    with frozen(), rates(**{scope: "1/hour"}):
        getattr(customer_client, method)(url, {}, format="json")
        second = getattr(customer_client, method)(url, {}, format="json")

    assert_problem(second, 429, "throttled")
    assert second["Retry-After"]


def test_the_partner_otp_submission_is_rate_limited(partner):
    booking = confirmed_booking(partner=partner)
    client = authed_client(partner.user)
    url = f"/api/v1/provider/bookings/{booking.pk}/confirm-arrival"
    with frozen(), rates(otp="2/hour"):
        answers = [client.post(url, {"otp": "000000"}, format="json") for _ in range(3)]

    assert [a.status_code for a in answers][2] == 429


def test_a_customer_holds_at_most_max_pending_bookings(
    make_slot, variant, customer_client, settings
):
    settings.MAX_PENDING_BOOKINGS = 2
    slots = [make_slot(capacity=3, hours=48 + 2 * i) for i in range(3)]

    answers = [book(customer_client, slot, variant) for slot in slots]

    assert [a.status_code for a in answers[:2]] == [201, 201]
    body = assert_problem(answers[2], 409, "too_many_pending_bookings")
    assert "at most 2" in body["detail"]
    assert Slot.objects.get(pk=slots[2].pk).booked == 0  # nothing held
    assert Booking.objects.filter(status=BookingStatus.PENDING_PAYMENT).count() == 2


def test_a_paid_or_cancelled_booking_frees_a_place(make_slot, variant, customer_client, settings):
    settings.MAX_PENDING_BOOKINGS = 1
    first, second = make_slot(capacity=2, hours=50), make_slot(capacity=2, hours=52)
    created = book(customer_client, first, variant).json()
    assert book(customer_client, second, variant).status_code == 409

    customer_client.post(f"/api/v1/bookings/{created['id']}/cancel", {"reason": "x"}, format="json")

    assert book(customer_client, second, variant).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_one_customer_never_exceed_the_cap(make_slot, variant, settings):
    settings.MAX_PENDING_BOOKINGS = 2
    customer = CustomerFactory()
    slots = [make_slot(capacity=1, hours=48 + 2 * i) for i in range(6)]

    clients = [authed_client(customer) for _ in slots]

    results = run_concurrently(
        len(slots), lambda i: book(clients[i], slots[i], variant).status_code
    )

    assert sorted(results) == [201, 201, 409, 409, 409, 409]
    assert Booking.objects.filter(customer=customer).count() == 2
    assert sum(Slot.objects.values_list("booked", flat=True)) == 2
