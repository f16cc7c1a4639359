"""common.rendering: a kept serializer renders what a fresh one does, reading settings
and time zones when it renders (the fields keep no state between calls)."""

from __future__ import annotations

import zoneinfo

import pytest
from django.utils import timezone

from bookings.serializers import BookingSerializer
from common.rendering import render, render_many
from payments.models import Gateway
from payments.serializers import PaymentHandleSerializer
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory

pytestmark = pytest.mark.django_db


def test_render_gives_what_a_fresh_serializer_gives():
    booking, other = PaymentFactory().booking, BookingFactory()

    assert render(BookingSerializer, booking) == BookingSerializer(booking).data
    assert render_many(BookingSerializer, [booking, other]) == list(
        BookingSerializer([booking, other], many=True).data
    )


def test_a_kept_serializer_reads_settings_and_time_zone_when_it_renders(settings):
    payment = PaymentFactory(gateway=Gateway.RAZORPAY)
    settings.RAZORPAY_KEY_ID = "rzp_first"
    assert render(PaymentHandleSerializer, payment)["key_id"] == "rzp_first"
    settings.RAZORPAY_KEY_ID = "rzp_second"
    assert render(PaymentHandleSerializer, payment)["key_id"] == "rzp_second"

    in_utc = render(BookingSerializer, payment.booking)
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):
        in_kolkata = render(BookingSerializer, payment.booking)
        assert in_kolkata == BookingSerializer(payment.booking).data
    assert in_kolkata["created_at"] != in_utc["created_at"]
    assert in_kolkata["created_at"].endswith("+05:30")
