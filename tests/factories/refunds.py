"""Factories for refund tests: a confirmed booking with a captured payment, policies."""

import factory
from django.utils.crypto import get_random_string

from bookings.models import BookingStatus
from payments.models import Gateway, Payment
from refunds.models import Dispute, RefundPolicy, default_tiers
from tests.factories.bookings import BookingFactory


class RefundPolicyFactory(factory.django.DjangoModelFactory):
    """A policy version; ``active=True`` deactivates the previous one (model save)."""

    class Meta:
        model = RefundPolicy

    name = "Test policy"
    version = None  # next number
    active = True
    tiers = factory.LazyFunction(default_tiers)
    provider_cancel_percent = 100
    unassigned_percent = 100


class CapturedPaymentFactory(factory.django.DjangoModelFactory):
    """A fully captured payment of a CONFIRMED booking (sandbox gateway by default)."""

    class Meta:
        model = Payment

    booking = factory.SubFactory(BookingFactory, status=BookingStatus.CONFIRMED)
    gateway = Gateway.SANDBOX
    order_id = factory.LazyFunction(lambda: "order_" + get_random_string(14))
    payment_id = factory.LazyFunction(lambda: "pay_" + get_random_string(14))
    amount_minor = factory.LazyAttribute(lambda o: o.booking.amount_minor)
    currency = factory.LazyAttribute(lambda o: o.booking.currency)
    captured_amount_minor = factory.LazyAttribute(lambda o: o.amount_minor)
    status = Payment.Status.CAPTURED


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    booking = factory.SubFactory(BookingFactory, status=BookingStatus.COMPLETED)
    raised_by = factory.LazyAttribute(lambda o: o.booking.customer)
    reason = "Service was not delivered as described."


def create_refund_of(payment, amount=None, *, source=None, reason="test", **extra):
    """A refund of ``payment`` through the real ``services.create_refund`` (ceiling check,
    idempotency key); ``amount`` defaults to everything captured, ``source`` to MANUAL."""
    from refunds import services
    from refunds.models import Refund

    return services.create_refund(
        booking=payment.booking,
        payment=payment,
        amount_minor=payment.captured_amount_minor if amount is None else amount,
        source=source or Refund.Source.MANUAL,
        reason=reason,
        **extra,
    )
