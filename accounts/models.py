from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from common.roles import Role

__all__ = ["Role", "User", "UserManager"]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("role", Role.SUPPORT)
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login: customers book, partners run their slots, support staff use the admin."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # Where the user lives or books (a partner's working city is on its Partner profile).
    city = models.ForeignKey(
        "partners.City", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        # Emails are stored lower-cased (login lower-cases its input), also from the admin;
        # cleaning runs before the form's unique check, so a case variant is a duplicate.
        super().clean()
        self.email = type(self).objects.normalize_email(self.email).lower()

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def is_partner(self) -> bool:
        return self.role == Role.PARTNER

    @property
    def is_support(self) -> bool:
        return self.role == Role.SUPPORT
