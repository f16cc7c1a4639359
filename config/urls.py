from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.views import HealthView
from config.landing import landing

api_v1 = [
    path("auth/", include("accounts.urls")),
    path("", include("partners.urls")),
    path("", include("bookings.urls")),
    path("", include("bookings.waitlist.urls")),
    path("", include("payments.urls")),
    path("", include("otp.urls")),
    path("", include("refunds.urls")),
    path("", include("notifications.urls")),
    path("", include("console.urls")),
]

urlpatterns = [
    path("", landing, name="landing"),
    path("health", HealthView.as_view(), name="health"),
    path("", include("monitoring.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("webhooks/", include("payments.webhook_urls")),
    path("sandbox/", include("payments.sandbox_urls")),
    path("admin/", admin.site.urls),
]

handler400 = "common.views.bad_request"
handler403 = "common.views.permission_denied"
handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
