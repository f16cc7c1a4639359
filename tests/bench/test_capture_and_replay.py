"""The benchmark's measuring tools, checked against real bookings: what
``bench.inprocess.capture`` counts, and that ``bench.replay`` replays a captured booking
faithfully (it books again, with its payment). No timing here: speed lives in bench/.

Real commits are what is measured, so these tests run with ``transaction=True``.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from bench import inprocess, replay
from bench.loadgen import Target
from bookings.models import Booking
from partners.models import Slot
from payments.models import Payment
from refunds.selectors import active_refund_policy
from tests.factories.accounts import UserFactory
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _conninfo() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )


def _target(slot, variant) -> Target:
    return Target(
        slot.pk,
        variant.pk,
        variant.price_minor,
        variant.currency,
        slot.partner_id,
        slot.start,
        slot.end,
    )


@pytest.fixture
def booked():
    """One captured POST /bookings; slot, partner and customer ids far from any other
    parameter."""
    replay.spread_sequences(_conninfo())
    active_refund_policy()  # as migrated: a transactional test starts without it
    variant = ServiceVariantFactory()
    partner = PartnerFactory(id=7_000_001, services=[variant.service])
    slot = SlotFactory(id=8_000_001, partner=partner, capacity=10)
    client = APIClient()
    client.force_authenticate(UserFactory(id=6_000_001))
    with inprocess.capture(connection) as captured:
        response = inprocess.booking_request(
            client, slot_id=slot.pk, variant_id=variant.pk, key="bench-key-1"
        )
    assert response.status_code == 201, response.content
    return captured, response.json(), slot, variant


def test_capture_counts_every_statement_and_each_commit(booked):
    captured, body, slot, _ = booked
    explicit = sum(1 for kind, _ in captured.events if kind == "commit")
    autocommitted = [s for s in captured.statements if s.is_write and not s.in_transaction]

    assert explicit >= 1
    assert captured.commits == explicit + len(autocommitted)
    # The seat take: the slot's UPDATE (a CTE) with its seat type's, one statement.
    seat_take = ("UPDATE partners_slot", "WITH taken AS ( UPDATE partners_slot")
    take_seats = [s for s in captured.statements if " ".join(s.sql.split()).startswith(seat_take)]
    assert len(take_seats) == 1
    assert take_seats[0].in_transaction
    insert = next(
        s for s in captured.statements if s.sql.startswith('INSERT INTO "bookings_booking"')
    )
    assert insert.returned == [(body["id"],)]


def _replay_once(captured, body, slot, variant, *, onto, customer) -> str:
    plan = replay.ReplayPlan(
        captured,
        key="bench-key-1",
        order_id=body["payment"]["order_id"],
        target=_target(slot, variant),
        customer_id=6_000_001,
    )
    worker = replay.ReplayWorker(
        _conninfo(), plan, [_target(onto, variant)], customer_id=customer.pk, seed=1
    )
    try:
        return worker()
    finally:
        worker.close()


def test_the_replay_books_another_slot_with_its_payment_and_nothing_else_changes(booked):
    captured, body, slot, variant = booked
    other = SlotFactory(
        id=8_000_002, partner=slot.partner, capacity=10, start=slot.start + timedelta(hours=2)
    )
    customer = UserFactory(id=6_000_002)

    assert _replay_once(captured, body, slot, variant, onto=other, customer=customer) == "201"

    replayed = Booking.objects.get(slot=other)
    assert replayed.customer_id == customer.pk
    assert (replayed.slot_start, replayed.slot_end) == (other.start, other.end)
    assert Payment.objects.filter(booking=replayed).count() == 1
    assert Payment.objects.get(booking=replayed).order_id != body["payment"]["order_id"]
    assert Slot.objects.get(pk=other.pk).booked == 1
    assert Slot.objects.get(pk=slot.pk).booked == 1  # the captured booking's, untouched
    assert Booking.objects.count() == 2


def test_a_replay_the_seat_update_refuses_writes_nothing(booked):
    """A partner that does not offer the captured variant: the one-statement seat UPDATE
    takes nothing, so the replay must not insert a booking that holds no seats."""
    captured, body, slot, variant = booked
    stranger = SlotFactory(id=8_000_003, partner=PartnerFactory(id=7_000_002), capacity=10)

    with pytest.raises(replay.ReplayRefused):
        _replay_once(captured, body, slot, variant, onto=stranger, customer=UserFactory())

    assert Slot.objects.get(pk=stranger.pk).booked == 0
    assert not Booking.objects.filter(slot=stranger).exists()
    assert Booking.objects.count() == 1
