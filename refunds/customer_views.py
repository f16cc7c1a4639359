"""A customer's own refunds and disputes (read only); another customer's is a 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets

from common.permissions import IsCustomer
from common.problems import PROBLEM
from refunds import customer_selectors as selectors
from refunds.errors import DisputeNotFound, RefundNotFound
from refunds.models import Dispute, Refund
from refunds.serializers import CustomerRefundSerializer, DisputeSerializer


class _OwnReadOnly(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsCustomer]
    model: type
    not_found: type[Exception]

    def own(self):
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return self.model.objects.none()
        return self.own()

    def get_object(self):
        found = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if found is None:
            raise self.not_found()
        return found


@extend_schema(tags=["refunds"])
class CustomerRefundViewSet(_OwnReadOnly):
    """The refunds of my bookings, newest first."""

    serializer_class = CustomerRefundSerializer
    model = Refund
    not_found = RefundNotFound

    def own(self):
        return selectors.customer_refunds(customer=self.request.user)

    @extend_schema(summary="My refunds", responses={200: CustomerRefundSerializer(many=True)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One of my refunds", responses={200: CustomerRefundSerializer, 404: PROBLEM}
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


@extend_schema(tags=["refunds"])
class CustomerDisputeViewSet(_OwnReadOnly):
    """The disputes of my bookings, newest first."""

    serializer_class = DisputeSerializer
    model = Dispute
    not_found = DisputeNotFound

    def own(self):
        return selectors.customer_disputes(customer=self.request.user)

    @extend_schema(summary="My disputes", responses={200: DisputeSerializer(many=True)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One of my disputes", responses={200: DisputeSerializer, 404: PROBLEM})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
