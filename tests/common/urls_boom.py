"""Test-only URLconf: views that crash, to check the 500 problem responses."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class ExplodingApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internals: do not leak this")


class UnstorableInputApiView(APIView):
    """Sends a query parameter to PostgreSQL unchecked (a NUL character cannot be stored)."""

    permission_classes = [AllowAny]

    def get(self, request):
        from partners.models import City

        return Response({"found": City.objects.filter(slug=request.GET["slug"]).exists()})


def exploding_django_view(request):
    raise RuntimeError("secret internals: do not leak this")


urlpatterns = [
    path("api/boom", ExplodingApiView.as_view()),
    path("api/unstorable", UnstorableInputApiView.as_view()),
    path("boom", exploding_django_view),
]

handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
