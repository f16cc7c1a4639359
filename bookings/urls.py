"""Booking routes. Explicit, slash-less and anchored, so the extra booking paths of other
modules (``bookings/<id>/cancel``, ``provider/bookings/<id>/confirm-arrival`` ...) are never
shadowed. ``bookings`` itself (list and checkout) is routed by ``payments.urls``."""

from django.urls import path

from bookings import views

booking_detail = views.BookingViewSet.as_view({"get": "retrieve"})
provider_list = views.ProviderBookingViewSet.as_view({"get": "list"})
provider_detail = views.ProviderBookingViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("partners/assign", views.AssignPartnerView.as_view(), name="partner-assign"),
    path("bookings/<int:pk>", booking_detail, name="booking-detail"),
    path(
        "bookings/<int:booking_id>/reschedule",
        views.RescheduleView.as_view(),
        name="booking-reschedule",
    ),
    path("provider/bookings", provider_list, name="provider-booking-list"),
    path("provider/bookings/<int:pk>", provider_detail, name="provider-booking-detail"),
    path(
        "provider/bookings/<int:booking_id>/assign",
        views.AssignStaffView.as_view(),
        name="provider-booking-assign",
    ),
]
