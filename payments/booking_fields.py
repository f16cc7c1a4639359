"""Every representation of a booking carries its ``payment`` (the handle a client pays
with), whichever app's endpoint returns it. Imported by ``PaymentsConfig.ready``."""

from bookings.extensions import register_booking_field
from payments.serializers import BookingPaymentField

register_booking_field("payment", BookingPaymentField, select_related="payment")
