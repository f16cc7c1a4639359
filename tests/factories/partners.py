from datetime import timedelta

import factory
from django.utils import timezone

from partners.models import (
    City,
    Partner,
    PartnerOffering,
    Service,
    ServiceVariant,
    Slot,
    SlotSeatType,
    Staff,
)
from tests.factories.accounts import PartnerUserFactory


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = City
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"City {n}")
    slug = factory.Sequence(lambda n: f"city-{n}")
    time_zone = "Asia/Kolkata"


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")


class ServiceVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceVariant

    service = factory.SubFactory(ServiceFactory)
    name = "Basic"
    tier = ServiceVariant.Tier.BASIC
    price_minor = 49900
    currency = "INR"
    duration_minutes = 60


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        skip_postgeneration_save = True

    user = factory.SubFactory(PartnerUserFactory)
    name = factory.Sequence(lambda n: f"Partner {n}")
    city = factory.SubFactory(CityFactory)
    rating = "4.50"
    verified = True
    active = True

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        # ``services=[...]``: offer every variant the services have now, at the list price.
        if create and extracted:
            for service in extracted:
                for variant in service.variants.all():
                    offer(self, variant)


def offer(partner, variant, *, price_minor=None, active=True) -> PartnerOffering:
    """The partner's offering of ``variant``: an existing one is kept unless a price or
    ``active=False`` is given; a new one is at the list price unless ``price_minor``."""
    defaults = {"price_minor": price_minor or variant.price_minor, "active": active}
    if price_minor is None and active:
        offering, _ = PartnerOffering.objects.get_or_create(
            partner=partner, variant=variant, defaults={**defaults, "currency": variant.currency}
        )
        return offering
    offering, _ = PartnerOffering.objects.update_or_create(
        partner=partner,
        variant=variant,
        defaults=defaults,
        create_defaults={**defaults, "currency": variant.currency},
    )
    return offering


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Faker("name")
    phone = "+910000000000"
    email = factory.Sequence(lambda n: f"staff{n}@example.test")


class SlotFactory(factory.django.DjangoModelFactory):
    """A slot; ``Slot.save`` gives it one ``standard`` seat type holding its capacity and
    booked seats. ``SlotFactory(seat_types=[("regular", 10), ("front", 2, 79900)])``
    replaces that with the given types (capacity the sum, nothing booked)."""

    class Meta:
        model = Slot
        skip_postgeneration_save = True

    partner = factory.SubFactory(PartnerFactory)
    start = factory.LazyFunction(
        lambda: (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    )
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=1))
    capacity = 1
    booked = 0

    @factory.post_generation
    def seat_types(self, create, extracted, **kwargs):
        if not (create and extracted):
            return
        SlotSeatType.objects.filter(slot=self).delete()
        for code, capacity, *price in extracted:
            SlotSeatType.objects.create(
                slot=self, code=code, capacity=capacity, price_minor=price[0] if price else None
            )
        self.capacity = sum(capacity for _code, capacity, *_price in extracted)
        Slot.objects.filter(pk=self.pk).update(capacity=self.capacity, booked=0)
        self.booked = 0
