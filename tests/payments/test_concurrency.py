"""Concurrent deliveries and concurrent payment starts: real threads, real transactions."""

from __future__ import annotations

import pytest
from django.test import Client

from bookings.models import Booking, BookingEvent, BookingStatus
from partners.models import Slot
from payments.models import Payment, WebhookEvent
from payments.orders import start_payment
from tests.concurrency import run_concurrently
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import post_webhook, razorpay_delivery, razorpay_payment_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_event_twenty_times_at_once_has_one_effect():
    payment = PaymentFactory(booking=BookingFactory(), gateway="razorpay", order_id="order_C20")
    body, headers = razorpay_delivery(
        razorpay_payment_event(
            "payment.captured", order_id="order_C20", amount=payment.amount_minor
        ),
        event_id="evt_C20",
    )

    results = run_concurrently(20, lambda i: post_webhook(Client(), "razorpay", body, headers))

    assert [r.status_code for r in results] == [200] * 20
    assert sorted(r.json()["duplicate"] for r in results) == [False] + [True] * 19
    assert WebhookEvent.objects.count() == 1
    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert BookingEvent.objects.filter(booking=booking, to_status="CONFIRMED").count() == 1
    assert Slot.objects.get(pk=booking.slot_id).booked == 1


def test_different_captures_and_failures_at_once_end_confirmed_once():
    payment = PaymentFactory(booking=BookingFactory(), gateway="razorpay", order_id="order_MIX")
    deliveries = [
        razorpay_delivery(
            razorpay_payment_event(
                "payment.failed" if i % 2 else "payment.captured",
                order_id="order_MIX",
                amount=payment.amount_minor,
            )
        )
        for i in range(8)
    ]

    results = run_concurrently(8, lambda i: post_webhook(Client(), "razorpay", *deliveries[i]))

    assert [r.status_code for r in results] == [200] * 8
    assert WebhookEvent.objects.count() == 8
    booking = Booking.objects.get(pk=payment.booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.holds_seats is True
    assert BookingEvent.objects.filter(booking=booking, to_status="CONFIRMED").count() == 1
    assert Slot.objects.get(pk=booking.slot_id).booked == 1


def test_concurrent_payment_starts_for_one_booking_store_one_payment(settings):
    settings.PAYMENT_SANDBOX_ENABLED = True
    booking = BookingFactory()

    results = run_concurrently(4, lambda i: start_payment(booking=booking, gateway="sandbox").pk)

    assert Payment.objects.filter(booking=booking).count() == 1
    assert set(results) == {Payment.objects.get(booking=booking).pk}
