"""The roles of a login. Every app checks roles through :mod:`common.permissions`; the
user model (``accounts.User``) stores one of these."""

from django.db import models


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"
    SUPPORT = "support", "Support"
