"""What one POST /bookings with an Idempotency-Key costs the database (issue 11, target 1),
counted, not timed: SQL statements that do work (transaction control, BEGIN, COMMIT,
SAVEPOINT, RELEASE, is counted as commits instead) and commits (explicit ones plus writes
in autocommit). Also: the 201 is what GET shows, and the
Idempotency-Key written in the checkout's own transactions keeps the key's answers."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import responses
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from common.idempotency import request_fingerprint
from common.models import IdempotencyKey
from conftest import authed_client
from payments.models import Payment
from refunds.selectors import active_refund_policy
from tests.factories.partners import SlotFactory

URL = "/api/v1/bookings"
ORDERS = "https://razorpay.fake/v1/orders"


TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


@dataclass
class Work:
    statements: list[str] = field(default_factory=list)
    commits: int = 0


@contextmanager
def database_work():
    """Statements (CaptureQueriesContext: BEGIN/COMMIT included) and commits of the block."""
    work = Work()

    def count_autocommit_writes(execute, sql, params, many, context):
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and not connection.in_atomic_block:
            work.commits += 1
        return execute(sql, params, many, context)

    original_commit = connection.commit

    def commit():
        work.commits += 1
        return original_commit()

    connection.commit = commit
    try:
        with (
            CaptureQueriesContext(connection) as captured,
            connection.execute_wrapper(count_autocommit_writes),
        ):
            yield work
    finally:
        del connection.commit
    work.statements = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].split(None, 1)[0].upper() not in TRANSACTION_CONTROL
    ]


def _body(slot, variant, **extra):
    return {"slot_id": slot.pk, "variant_id": variant.pk, **extra}


def _post(client, body, key="budget-1"):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db(transaction=True)
def test_a_sandbox_booking_costs_at_most_8_statements_and_2_commits(
    customer_client, make_slot, variant
):
    slot = make_slot(capacity=2)
    active_refund_policy()  # as migrated: a transactional test starts without it

    with database_work() as work:
        response = _post(customer_client, _body(slot, variant, gateway="sandbox"))

    assert response.status_code == 201, response.content
    assert len(work.statements) <= 8, "\n".join(work.statements)
    assert work.commits <= 2, "\n".join(work.statements)
    assert IdempotencyKey.objects.get().state == "completed"
    assert Payment.objects.get().booking_id == response.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_a_seat_type_booking_costs_the_same_8_statements_and_1_commit(
    customer_client, partner, variant
):
    # The seat type's seats ride on the slot's seat UPDATE (one statement, a CTE).
    start = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    slot = SlotFactory(
        partner=partner,
        start=start,
        end=start + timedelta(hours=1),
        seat_types=[("regular", 10), ("front", 2, 79900)],
    )
    active_refund_policy()

    with database_work() as work:
        response = _post(
            customer_client, _body(slot, variant, gateway="sandbox", seat_type="front", quantity=2)
        )

    assert response.status_code == 201, response.content
    assert (response.json()["seat_type"], response.json()["amount"]) == ("front", 2 * 79900)
    assert len(work.statements) <= 8, "\n".join(work.statements)
    assert work.commits <= 1, "\n".join(work.statements)
    seats = dict(slot.seat_types.values_list("code", "booked"))
    assert seats == {"regular": 0, "front": 2}


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_razorpay_booking_commits_at_most_twice_and_calls_the_gateway_outside_them(
    customer_client, make_slot, variant
):
    slot = make_slot(capacity=2)
    in_transaction = []

    def create_order(request):
        in_transaction.append(connection.in_atomic_block)
        return 200, {}, '{"id": "order_Budget1", "amount": 49900, "currency": "INR"}'

    responses.add_callback(responses.POST, ORDERS, callback=create_order)

    with database_work() as work:
        response = _post(customer_client, _body(slot, variant, gateway="razorpay"))

    assert response.status_code == 201, response.content
    assert work.commits <= 2, "\n".join(work.statements)
    assert in_transaction == [False]
    assert response.json()["payment"]["order_id"] == "order_Budget1"
    assert IdempotencyKey.objects.get().state == "completed"


@pytest.mark.django_db(transaction=True)
@responses.activate
@pytest.mark.parametrize("gateway", ["sandbox", "razorpay"])
def test_the_201_is_the_booking_as_get_shows_it(customer_client, make_slot, variant, gateway):
    responses.post(ORDERS, json={"id": "order_Same1", "amount": 49900, "currency": "INR"})
    slot = make_slot(capacity=3)

    created = _post(customer_client, _body(slot, variant, quantity=2, gateway=gateway))
    shown = customer_client.get(f"{URL}/{created.json()['id']}")

    assert created.status_code == 201, created.content
    assert list(created.json()) == list(shown.json())  # same fields, same order
    assert created.json() == shown.json()


# --- the key written in the checkout's transactions ------------------------------------------


def _claim(customer, body, *, created_at=None):
    """An in-progress claim of ``budget-1`` for POST /bookings with ``body``."""
    now = timezone.now()
    claim = IdempotencyKey.objects.create(
        user=customer,
        key="budget-1",
        method="POST",
        path=URL,
        request_hash=request_fingerprint(method="POST", path=URL, data=body),
        expires_at=now + timedelta(hours=24),
    )
    if created_at is not None:
        IdempotencyKey.objects.filter(pk=claim.pk).update(created_at=created_at)
    return claim


@pytest.mark.django_db(transaction=True)
def test_a_key_still_in_progress_is_a_409_and_books_nothing(
    customer_client, customer, make_slot, variant
):
    slot = make_slot(capacity=2)
    body = _body(slot, variant)
    _claim(customer, body)

    response = _post(customer_client, body)

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Booking.objects.exists()
    assert IdempotencyKey.objects.get().state == "in_progress"


@pytest.mark.django_db(transaction=True)
def test_a_stale_claim_is_taken_over_and_completed(
    customer_client, customer, make_slot, variant, settings
):
    settings.IDEMPOTENCY_STALE_CLAIM_SECONDS = 60
    slot = make_slot(capacity=2)
    body = _body(slot, variant)
    claim = _claim(customer, body, created_at=timezone.now() - timedelta(seconds=61))

    response = _post(customer_client, body)
    again = _post(customer_client, body)

    assert response.status_code == 201, response.content
    assert again.json() == response.json()
    assert again["Idempotent-Replayed"] == "true"
    stored = IdempotencyKey.objects.get()
    assert (stored.pk, stored.state, stored.response_status) == (claim.pk, "completed", 201)
    assert Booking.objects.get().status == BookingStatus.PENDING_PAYMENT
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.django_db(transaction=True)
def test_an_expired_key_books_afresh(customer_client, customer, make_slot, variant, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    slot = make_slot(capacity=2, hours=96)
    first = _post(customer_client, _body(slot, variant))

    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1), tick=False):
        second = _post(authed_client(customer), _body(slot, variant))  # a fresh token

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert not second.has_header("Idempotent-Replayed")
    assert IdempotencyKey.objects.get().response_body["id"] == second.json()["id"]
    slot.refresh_from_db()
    assert slot.booked == 2


@pytest.mark.django_db(transaction=True)
def test_a_business_error_without_a_claim_is_stored_once(customer_client, make_slot, variant):
    slot = make_slot(capacity=1, booked=1)

    with database_work() as work:
        refused = _post(customer_client, _body(slot, variant))

    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_unavailable"
    assert work.commits == 1  # the stored 409; the refused booking transaction rolled back
    stored = IdempotencyKey.objects.get()
    assert (stored.state, stored.response_status) == ("completed", 409)


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_duplicate_during_the_gateway_call_is_a_409_and_books_nothing(
    customer_client, customer, make_slot, variant
):
    slot = make_slot(capacity=3)
    body = _body(slot, variant, gateway="razorpay")
    duplicates = []

    def create_order(request):
        # The first request committed its booking and its claim; its payment is not stored.
        duplicates.append(_post(authed_client(customer), body))
        return 200, {}, '{"id": "order_Dup1", "amount": 49900, "currency": "INR"}'

    responses.add_callback(responses.POST, ORDERS, callback=create_order)

    first = _post(customer_client, body)
    again = _post(customer_client, body)

    assert first.status_code == 201, first.content
    assert [d.status_code for d in duplicates] == [409]
    assert duplicates[0].json()["code"] == "idempotency_key_in_use"
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1
    assert len(responses.calls) == 1
