from django.urls import path

from payments import sandbox_views

urlpatterns = [
    path("checkout/<str:order_id>", sandbox_views.checkout, name="sandbox-checkout"),
    path("checkout/<str:order_id>/pay", sandbox_views.pay, name="sandbox-pay"),
    path(
        "checkout/<str:order_id>/pay-lost-webhook",
        sandbox_views.pay_lost_webhook,
        name="sandbox-pay-lost-webhook",
    ),
    path("checkout/<str:order_id>/fail", sandbox_views.fail, name="sandbox-fail"),
    path("return/<str:order_id>", sandbox_views.payment_return, name="sandbox-return"),
]
