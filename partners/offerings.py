"""A partner's offerings: which catalog variants it sells, at its own price.

The platform keeps the catalog (services, variants with a duration and a list price); a
partner picks variants and sets its price in minor units. Bookings copy the price when
they are made (``Booking.amount_minor``), so nothing here ever touches a booking.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from partners.errors import InvalidPrice, OfferingExists, OfferingNotFound
from partners.models import Partner, PartnerOffering, ServiceVariant


def check_price(price_minor: int) -> None:
    """Refuse a price outside ``1..OFFERING_MAX_PRICE_MINOR`` with InvalidPrice (400)."""
    top = settings.OFFERING_MAX_PRICE_MINOR
    if not 0 < price_minor <= top:
        raise InvalidPrice(
            f"A price is between 1 and {top} minor units.",
            errors={"price_minor": [f"Must be between 1 and {top}."]},
        )


@transaction.atomic
def create_offering(
    *, partner_id: int, variant_id: int, price_minor: int, active: bool = True
) -> PartnerOffering:
    """Offer a catalog variant at ``price_minor`` (currency of the partner's city, else the
    platform's ``DEFAULT_CURRENCY``).

    Atomic. Raises InvalidPrice (400) for a price out of range and OfferingExists (409)
    when the partner already has an offering of the variant (change it instead); the
    unique constraint settles two concurrent creations. The caller checks that the variant
    is an active one of an active service.
    """
    check_price(price_minor)
    city = Partner.objects.select_related("city").get(pk=partner_id).city
    service_id = ServiceVariant.objects.values_list("service_id", flat=True).get(pk=variant_id)
    try:
        with transaction.atomic():  # savepoint: the violation must not poison the caller
            return PartnerOffering.objects.create(
                partner_id=partner_id,
                variant_id=variant_id,
                service_id=service_id,
                price_minor=price_minor,
                currency=city.price_currency,
                active=active,
            )
    except IntegrityError:
        raise OfferingExists(
            "You already offer this variant; change its price or activate it instead.",
            errors={"variant_id": ["Already offered."]},
        ) from None


@transaction.atomic
def update_offering(
    *,
    partner_id: int,
    offering_id: int,
    price_minor: int | None = None,
    active: bool | None = None,
) -> PartnerOffering:
    """Change the price and/or the active flag of one of the partner's offerings.

    One conditional UPDATE; existing bookings keep the amount they were made at, an
    inactive offering takes no new bookings (400 ``variant_not_offered``). Another
    partner's offering is OfferingNotFound (404); InvalidPrice (400) for a price out of
    range. No change given is a no-op that still checks ownership.
    """
    changes: dict[str, object] = {}
    if price_minor is not None:
        check_price(price_minor)
        changes["price_minor"] = price_minor
    if active is not None:
        changes["active"] = active
    mine = PartnerOffering.objects.filter(pk=offering_id, partner_id=partner_id)
    # update() skips auto_now fields: the time is set by hand.
    if changes:
        changes["updated_at"] = timezone.now()
    if not (mine.update(**changes) if changes else mine.exists()):
        raise OfferingNotFound("No such offering.")
    return PartnerOffering.objects.select_related("variant__service").get(pk=offering_id)
