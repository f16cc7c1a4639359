from django.urls import path

from notifications.views import ProviderWebhookView

urlpatterns = [
    path("provider/webhook", ProviderWebhookView.as_view(), name="provider-webhook"),
]
