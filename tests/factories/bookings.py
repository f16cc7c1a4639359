"""Booking factories that keep the inventory honest: a seat-holding booking is counted in
its slot's ``booked``, an unpaid one in its customer's pending count (as
:func:`bookings.services.book_slot` would do)."""

from datetime import timedelta

import factory
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from bookings.models import Booking, BookingStatus, PendingBookings
from partners.models import Slot, SlotSeatType
from tests.factories.accounts import CustomerFactory
from tests.factories.partners import ServiceVariantFactory, SlotFactory, offer


class BookingFactory(factory.django.DjangoModelFactory):
    """``BookingFactory(slot=..., status=..., quantity=...)``.

    The partner is the slot's; the partner offers the variant (at its list price unless an
    offering exists);
    ``holds_seats`` bookings add ``quantity`` to ``slot.booked`` (the CHECK constraint
    rejects a factory call that would oversell, like production would).
    """

    class Meta:
        model = Booking

    customer = factory.SubFactory(CustomerFactory)
    slot = factory.SubFactory(SlotFactory)
    slot_start = factory.LazyAttribute(lambda o: o.slot.start)
    slot_end = factory.LazyAttribute(lambda o: o.slot.end)
    partner = factory.LazyAttribute(lambda o: o.slot.partner)
    variant = factory.SubFactory(ServiceVariantFactory)
    quantity = 1
    amount_minor = factory.LazyAttribute(lambda o: o.variant.price_minor * o.quantity)
    currency = factory.LazyAttribute(lambda o: o.variant.currency)
    status = BookingStatus.PENDING_PAYMENT
    holds_seats = factory.LazyAttribute(
        lambda o: (
            o.status
            not in (BookingStatus.EXPIRED, BookingStatus.CANCELLED, BookingStatus.PAYMENT_FAILED)
        )
    )
    hold_expires_at = factory.LazyFunction(
        lambda: timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        booking = super()._create(model_class, *args, **kwargs)
        offer(booking.partner, booking.variant)
        if booking.holds_seats:
            Slot.objects.filter(pk=booking.slot_id).update(booked=F("booked") + booking.quantity)
            SlotSeatType.objects.filter(slot_id=booking.slot_id, code=booking.seat_type).update(
                booked=F("booked") + booking.quantity
            )
            booking.slot.refresh_from_db(fields=["booked"])
        if booking.status == BookingStatus.PENDING_PAYMENT:
            PendingBookings.objects.get_or_create(customer_id=booking.customer_id)
            PendingBookings.objects.filter(pk=booking.customer_id).update(count=F("count") + 1)
        return booking
