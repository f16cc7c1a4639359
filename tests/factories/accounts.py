import factory

from accounts.models import Role, User

TEST_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Faker("name")
    role = Role.CUSTOMER
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class CustomerFactory(UserFactory):
    role = Role.CUSTOMER


class PartnerUserFactory(UserFactory):
    role = Role.PARTNER


class SupportUserFactory(UserFactory):
    role = Role.SUPPORT
    is_staff = True
    is_superuser = True
