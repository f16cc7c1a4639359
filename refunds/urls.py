from django.urls import path

from refunds import views
from refunds.customer_views import CustomerDisputeViewSet, CustomerRefundViewSet

LIST = {"get": "list"}
DETAIL = {"get": "retrieve"}

urlpatterns = [
    path("bookings/<int:pk>/cancel", views.CustomerCancelView.as_view(), name="booking-cancel"),
    path(
        "provider/bookings/<int:pk>/cancel",
        views.ProviderCancelView.as_view(),
        name="provider-booking-cancel",
    ),
    path("bookings/<int:pk>/disputes", views.DisputeCreateView.as_view(), name="booking-disputes"),
    path("refunds", CustomerRefundViewSet.as_view(LIST), name="customer-refunds"),
    path("refunds/<int:pk>", CustomerRefundViewSet.as_view(DETAIL), name="customer-refund"),
    path("disputes", CustomerDisputeViewSet.as_view(LIST), name="customer-disputes"),
    path("disputes/<int:pk>", CustomerDisputeViewSet.as_view(DETAIL), name="customer-dispute"),
    path("support/refunds", views.SupportRefundListView.as_view(), name="support-refunds"),
    path(
        "support/bookings/<int:pk>/refunds",
        views.SupportManualRefundView.as_view(),
        name="support-booking-refunds",
    ),
    path(
        "support/refunds/<int:pk>/retry",
        views.SupportRetryRefundView.as_view(),
        name="support-refund-retry",
    ),
]
