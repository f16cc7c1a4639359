import pytest

from bookings.models import BookingStatus
from refunds.models import Refund
from tests.factories.bookings import BookingFactory
from tests.factories.partners import StaffFactory
from tests.factories.refunds import CapturedPaymentFactory

STRIPE_BASE = "https://stripe.test.invalid"
RAZORPAY_BASE = "https://razorpay.test.invalid"


@pytest.fixture
def fake_gateways(settings):
    """Point the SDKs at hosts that only ``responses`` answers; the webhook secrets the
    signing helpers of ``tests.payments.conftest`` use."""
    from tests.payments.conftest import RAZORPAY_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET

    settings.STRIPE_API_BASE = STRIPE_BASE
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.RAZORPAY_API_BASE = RAZORPAY_BASE
    settings.RAZORPAY_KEY_ID = "rzp_test_fake"
    settings.RAZORPAY_KEY_SECRET = "rzp_secret_fake"
    settings.RAZORPAY_WEBHOOK_SECRET = RAZORPAY_WEBHOOK_SECRET
    return settings


@pytest.fixture
def captured_payment(db, customer):
    """``captured_payment(gateway="sandbox", amount=49900, status=CONFIRMED)``."""

    def make(*, gateway: str = "sandbox", amount: int = 49900, **booking_fields):
        booking_fields.setdefault("status", BookingStatus.CONFIRMED)
        booking = BookingFactory(customer=customer, amount_minor=amount, **booking_fields)
        if booking.assigned_staff_id is None:
            booking.assigned_staff = StaffFactory(partner=booking.partner)
            booking.save(update_fields=["assigned_staff"])
        prefix = {"stripe": "pi_", "razorpay": "pay_"}.get(gateway, "sbx_pay_")
        return CapturedPaymentFactory(
            booking=booking, gateway=gateway, payment_id=f"{prefix}{booking.pk}x"
        )

    return make


@pytest.fixture
def failed_refund(captured_payment):
    """``failed_refund(amount=100)``: a manual refund of a captured sandbox payment that
    failed for good (5 attempts, last error a gateway 503), ready to be retried."""

    def make(*, amount: int = 100) -> Refund:
        payment = captured_payment()
        return Refund.objects.create(
            booking=payment.booking,
            payment=payment,
            amount_minor=amount,
            currency="INR",
            source=Refund.Source.MANUAL,
            status=Refund.Status.FAILED,
            attempts=5,
            last_error="GatewayError: 503",
        )

    return make
