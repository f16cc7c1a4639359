from django.urls import path

from partners import views

urlpatterns = [
    path("services", views.ServiceListView.as_view(), name="service-list"),
    path("cities", views.CityListView.as_view(), name="city-list"),
    path("partners", views.PartnerListView.as_view(), name="partner-list"),
    path("partners/<int:pk>", views.PartnerDetailView.as_view(), name="partner-detail"),
    path("partners/<int:pk>/slots", views.PartnerSlotsView.as_view(), name="partner-slots"),
    path("provider/slots", views.ProviderSlotsView.as_view(), name="provider-slots"),
    path(
        "provider/slots/<int:pk>",
        views.ProviderSlotDetailView.as_view(),
        name="provider-slot-detail",
    ),
    path(
        "provider/slots/<int:pk>/block",
        views.ProviderSlotBlockView.as_view(),
        name="provider-slot-block",
    ),
    path(
        "provider/slots/<int:pk>/unblock",
        views.ProviderSlotUnblockView.as_view(),
        name="provider-slot-unblock",
    ),
    path("provider/offerings", views.ProviderOfferingsView.as_view(), name="provider-offerings"),
    path(
        "provider/offerings/<int:pk>",
        views.ProviderOfferingDetailView.as_view(),
        name="provider-offering-detail",
    ),
    path("provider/staff", views.ProviderStaffView.as_view(), name="provider-staff"),
    path(
        "provider/staff/<int:pk>",
        views.ProviderStaffDetailView.as_view(),
        name="provider-staff-detail",
    ),
]
