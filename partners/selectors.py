"""Read queries of the partner catalog (public listings and the partner's own views)."""

from datetime import datetime

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from partners.models import City, Partner, PartnerOffering, Service, ServiceVariant, Slot, Staff


def active_services() -> QuerySet[Service]:
    """Active services with their active variants, cheapest first."""
    return Service.objects.filter(active=True).prefetch_related(
        Prefetch("variants", queryset=ServiceVariant.objects.filter(active=True))
    )


def cities() -> QuerySet[City]:
    return City.objects.all()


def bookable_offerings() -> QuerySet[PartnerOffering]:
    """Offerings a customer can book: active, of an active variant of an active service."""
    return PartnerOffering.objects.filter(
        active=True, variant__active=True, variant__service__active=True
    )


def public_partners() -> QuerySet[Partner]:
    """Partners customers may see: active and verified, each with ``active_offerings``
    (:func:`bookable_offerings`, by service then price) prefetched."""
    offerings = (
        bookable_offerings()
        .select_related("variant__service")
        .order_by("variant__service__name", "price_minor", "variant_id")
    )
    return (
        Partner.objects.filter(active=True, verified=True)
        .select_related("city")
        .prefetch_related(Prefetch("offerings", queryset=offerings, to_attr="active_offerings"))
    )


def offering_service(service: Service) -> Exists:
    """The partner (the outer row) has a bookable offering of ``service``."""
    return Exists(
        bookable_offerings().filter(partner_id=OuterRef("pk"), variant__service_id=service.pk)
    )


def partner_offerings(*, partner_id: int) -> QuerySet[PartnerOffering]:
    """All of a partner's offerings (active or not), with their variant and service."""
    return (
        PartnerOffering.objects.filter(partner_id=partner_id)
        .select_related("variant__service")
        .order_by("variant__service__name", "variant_id")
    )


def partner_slots(
    *,
    partner_id: int,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    available_only: bool = True,
) -> QuerySet[Slot]:
    """A partner's slots starting in ``[start_from, start_to)``, ordered by start.

    ``available_only`` keeps slots a customer could book now: not blocked, not full, and
    not started yet.
    """
    slots = Slot.objects.filter(partner_id=partner_id)
    if start_from is not None:
        slots = slots.filter(start__gte=start_from)
    if start_to is not None:
        slots = slots.filter(start__lt=start_to)
    if available_only:
        slots = slots.filter(blocked=False, booked__lt=F("capacity"), start__gt=timezone.now())
    return slots.order_by("start", "id").prefetch_related("seat_types")


def partner_staff(*, partner_id: int, active: bool | None = None) -> QuerySet[Staff]:
    staff = Staff.objects.filter(partner_id=partner_id)
    if active is not None:
        staff = staff.filter(active=active)
    return staff.order_by("id")
