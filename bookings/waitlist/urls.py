"""Waitlist routes (slash-less, like the other booking routes)."""

from django.urls import path

from bookings.waitlist import views

urlpatterns = [
    path("slots/<int:slot_id>/waitlist", views.SlotWaitlistView.as_view(), name="slot-waitlist"),
    path("waitlist", views.WaitlistListView.as_view(), name="waitlist-list"),
    path("waitlist/<int:pk>", views.WaitlistEntryView.as_view(), name="waitlist-detail"),
]
