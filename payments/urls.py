from django.urls import path

from payments.views import CheckoutViewSet, PaymentVerifyView

urlpatterns = [
    path(
        "bookings",
        CheckoutViewSet.as_view({"get": "list", "post": "create"}),
        name="booking-list",
    ),
    path(
        "bookings/<int:booking_id>/payment/verify",
        PaymentVerifyView.as_view(),
        name="booking-payment-verify",
    ),
]
