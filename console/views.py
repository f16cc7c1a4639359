from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from common.permissions import IsSupport
from common.rendering import render
from console import selectors
from console.serializers import SupportStatusSerializer


class SupportStatusView(APIView):
    permission_classes = [IsSupport]

    @extend_schema(
        summary="Queue status for support: outbox, refunds, flagged payments, disputes, "
        "webhooks of the last hour, Celery queues",
        responses={200: SupportStatusSerializer},
    )
    def get(self, request):
        return Response(render(SupportStatusSerializer, selectors.support_status()))
