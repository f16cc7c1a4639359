"""The refund terms are fixed when a booking is made: a later policy change does not
change its refund; the booking shows them and what cancelling now would refund."""

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.services import book_slot
from conftest import authed_client
from payments.models import Payment
from refunds.cancellation import cancel_booking
from refunds.models import RefundPolicy, RefundTerms
from tests.factories.bookings import BookingFactory
from tests.factories.partners import StaffFactory
from tests.factories.refunds import RefundPolicyFactory

GENEROUS = [{"min_hours_before": 24, "percent": 100}, {"min_hours_before": 0, "percent": 80}]
STINGY = [{"min_hours_before": 0, "percent": 0}]


def _paid_booking(customer, slot, variant):
    """A booking made through ``book_slot``, paid, with staff assigned."""
    booking = book_slot(customer=customer, slot_id=slot.pk, variant_id=variant.pk)
    Payment.objects.create(
        booking=booking,
        gateway="sandbox",
        order_id=f"sbx_order_terms{booking.pk}",
        payment_id=f"sbx_pay_terms{booking.pk}",
        amount_minor=booking.amount_minor,
        currency=booking.currency,
        captured_amount_minor=booking.amount_minor,
        status=Payment.Status.CAPTURED,
    )
    booking.status = BookingStatus.CONFIRMED
    booking.assigned_staff = StaffFactory(partner=booking.partner)
    booking.save(update_fields=["status", "assigned_staff"])
    return booking


@pytest.mark.django_db
def test_changing_the_active_policy_after_booking_does_not_change_that_bookings_refund(
    customer, make_slot, variant
):
    first = RefundPolicyFactory(tiers=GENEROUS, provider_cancel_percent=100)
    booking = _paid_booking(customer, make_slot(hours=10), variant)
    RefundPolicyFactory(tiers=STINGY, provider_cancel_percent=0, unassigned_percent=0)
    later = _paid_booking(customer, make_slot(hours=11), variant)

    refund = cancel_booking(booking_id=booking.pk, actor=customer, by="customer", reason="x").refund
    later_refund = cancel_booking(
        booking_id=later.pk, actor=customer, by="customer", reason="x"
    ).refund

    assert (refund.percent, refund.amount_minor, refund.policy_version) == (
        80,
        39920,
        first.version,
    )
    assert (later_refund.percent, later_refund.amount_minor) == (0, 0)
    terms = RefundTerms.objects.get(booking=booking)
    assert (terms.policy_version, terms.tiers) == (first.version, GENEROUS)


@pytest.mark.django_db
def test_booking_detail_shows_its_terms_and_the_refund_if_cancelled_now(
    customer, make_slot, variant
):
    policy = RefundPolicyFactory(tiers=GENEROUS)
    booking = _paid_booking(customer, make_slot(hours=30), variant)
    RefundPolicyFactory(tiers=STINGY)
    client = authed_client(customer)

    data = client.get(f"/api/v1/bookings/{booking.pk}").json()
    assert data["refund_terms"] == {
        "policy_version": policy.version,
        "tiers": [
            {"min_hours_before": 24.0, "percent": 100},
            {"min_hours_before": 0.0, "percent": 80},
        ],
        "provider_cancel_percent": 100,
        "unassigned_percent": 100,
    }
    assert data["refund_if_cancelled_now"] == {"percent": 100, "amount": 49900}

    with time_machine.travel(timezone.now() + timedelta(hours=7)):  # 23 h before the slot
        data = authed_client(customer).get(f"/api/v1/bookings/{booking.pk}").json()
    assert data["refund_if_cancelled_now"] == {"percent": 80, "amount": 39920}

    listed = client.get("/api/v1/bookings").json()["results"][0]
    assert listed["refund_if_cancelled_now"] == {"percent": 100, "amount": 49900}

    cancel_booking(booking_id=booking.pk, actor=customer, by="customer", reason="x")
    data = client.get(f"/api/v1/bookings/{booking.pk}").json()
    assert data["refund_if_cancelled_now"] is None


@pytest.mark.django_db
def test_unpaid_booking_shows_the_percent_and_nothing_to_refund(customer, make_slot, variant):
    booking = book_slot(customer=customer, slot_id=make_slot().pk, variant_id=variant.pk)
    data = authed_client(customer).get(f"/api/v1/bookings/{booking.pk}").json()
    assert data["refund_if_cancelled_now"] == {"percent": 100, "amount": 0}


@pytest.mark.django_db
def test_migration_gives_existing_bookings_the_policy_active_then(customer):
    RefundPolicyFactory(tiers=GENEROUS, unassigned_percent=90)
    older = BookingFactory(customer=customer)  # made before snapshots: no terms
    assert not RefundTerms.objects.filter(booking=older).exists()
    migration = importlib.import_module("refunds.migrations.0007_snapshot_refund_terms")

    migration.snapshot_active_policy(apps, None)
    migration.snapshot_active_policy(apps, None)  # a second run adds nothing

    terms = RefundTerms.objects.get(booking=older)
    active = RefundPolicy.objects.get(active=True)
    assert (terms.policy_version, terms.tiers, terms.unassigned_percent) == (
        active.version,
        GENEROUS,
        90,
    )
    assert RefundTerms.objects.count() == 1


@pytest.mark.django_db
def test_the_preview_of_a_reassigned_booking_promises_the_full_refund(customer, make_slot, variant):
    booking = _paid_booking(customer, make_slot(hours=5), variant)  # under 12 h: 0 % tier
    booking.assigned_staff = StaffFactory(partner=booking.partner)
    booking.save(update_fields=["assigned_staff"])
    client = authed_client(customer)

    assert (
        client.get(f"/api/v1/bookings/{booking.pk}").json()["refund_if_cancelled_now"]["percent"]
        == 0
    )
    booking.reassigned_at = timezone.now()
    booking.save(update_fields=["reassigned_at"])
    preview = client.get(f"/api/v1/bookings/{booking.pk}").json()["refund_if_cancelled_now"]

    refund = cancel_booking(booking_id=booking.pk, actor=customer, by="customer", reason="x")
    assert preview == {"percent": 100, "amount": refund.refund.amount_minor}
    assert refund.refund.percent == 100
