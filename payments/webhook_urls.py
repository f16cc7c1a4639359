from django.urls import path

from payments.views import RazorpayWebhookView, SandboxWebhookView, StripeWebhookView

urlpatterns = [
    path("razorpay", RazorpayWebhookView.as_view(), name="webhook-razorpay"),
    path("stripe", StripeWebhookView.as_view(), name="webhook-stripe"),
    path("sandbox", SandboxWebhookView.as_view(), name="webhook-sandbox"),
]
