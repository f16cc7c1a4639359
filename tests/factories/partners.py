from datetime import timedelta

import factory
from django.utils import timezone

from partners.models import City, Partner, Service, ServiceVariant, Slot, Staff
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
        if create and extracted:
            self.services.add(*extracted)


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Faker("name")
    phone = "+910000000000"
    email = factory.Sequence(lambda n: f"staff{n}@example.test")


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    partner = factory.SubFactory(PartnerFactory)
    start = factory.LazyFunction(
        lambda: (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    )
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=1))
    capacity = 1
    booked = 0
