"""Service-day endpoints verified by one-time code (included under /api/v1/)."""

from django.urls import path

from otp import views

urlpatterns = [
    path(
        "provider/bookings/<int:booking_id>/confirm-arrival",
        views.ConfirmArrivalView.as_view(),
        name="provider-booking-confirm-arrival",
    ),
    path(
        "provider/bookings/<int:booking_id>/mark-complete",
        views.MarkCompleteView.as_view(),
        name="provider-booking-mark-complete",
    ),
    path(
        "bookings/<int:booking_id>/verify-completion",
        views.VerifyCompletionView.as_view(),
        name="booking-verify-completion",
    ),
    path(
        "bookings/<int:booking_id>/resend-otp",
        views.ResendOtpView.as_view(),
        name="booking-resend-otp",
    ),
]
