from django.urls import path

from payments.views import PaymentVerifyView

urlpatterns = [
    path(
        "bookings/<int:booking_id>/payment/verify",
        PaymentVerifyView.as_view(),
        name="booking-payment-verify",
    ),
]
