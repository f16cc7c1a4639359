from django.urls import path

from console import views

urlpatterns = [
    path("support/status", views.SupportStatusView.as_view(), name="support-status"),
]
