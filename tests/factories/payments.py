"""Payment factories. A ``PaymentFactory`` belongs to a (pending) booking by default."""

import factory

from payments.models import Gateway, Payment
from tests.factories.bookings import BookingFactory


class PaymentFactory(factory.django.DjangoModelFactory):
    """``PaymentFactory(booking=..., gateway="razorpay", order_id=...)``: amount and
    currency are the booking's; status CREATED."""

    class Meta:
        model = Payment

    booking = factory.SubFactory(BookingFactory)
    gateway = Gateway.SANDBOX
    order_id = factory.Sequence(lambda n: f"order_test{n:06d}")
    amount_minor = factory.LazyAttribute(lambda o: o.booking.amount_minor)
    currency = factory.LazyAttribute(lambda o: o.booking.currency)
    status = Payment.Status.CREATED
