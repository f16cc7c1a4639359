"""Test-only URLconf: views that crash, to check the 500 problem responses."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class ExplodingApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internals: do not leak this")


def exploding_django_view(request):
    raise RuntimeError("secret internals: do not leak this")


urlpatterns = [
    path("api/boom", ExplodingApiView.as_view()),
    path("boom", exploding_django_view),
]

handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
