"""Service-day endpoints (included under /api/v1/ by config/urls.py)."""

from django.urls import path

from bookings import service_day_views as views

urlpatterns = [
    path(
        "provider/bookings/<int:booking_id>/assign",
        views.AssignStaffView.as_view(),
        name="provider-booking-assign",
    ),
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
