from functools import cache
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from common.constraints import TimeRangeExclusion


@cache
def _iana_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_time_zone(value: str) -> None:
    # A zone ZoneInfo cannot load would turn every "day" computation of the city into a 500.
    if value not in _iana_time_zones():
        raise ValidationError(
            "%(value)s is not an IANA time zone (e.g. Asia/Kolkata).",
            code="invalid_time_zone",
            params={"value": value},
        )


def validate_price_minor(value: int) -> None:
    # Prices are minor units above zero and below OFFERING_MAX_PRICE_MINOR, which also keeps
    # price x quantity (at most 100) inside the integer columns of bookings and payments.
    if not 0 < value <= settings.OFFERING_MAX_PRICE_MINOR:
        raise ValidationError(
            "Must be between 1 and %(max)s (minor units).",
            code="invalid_price",
            params={"max": settings.OFFERING_MAX_PRICE_MINOR},
        )


class City(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA time zone, e.g. Asia/Kolkata",
    )
    # Currency of the partners' prices in this city; empty: settings.DEFAULT_CURRENCY.
    currency = models.CharField(max_length=3, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "cities"

    def __str__(self) -> str:
        return self.name

    @property
    def price_currency(self) -> str:
        return self.currency or settings.DEFAULT_CURRENCY


class Service(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceVariant(models.Model):
    """A tier of a service in the platform's catalog (Basic/Premium/Express), with its
    duration and list price (minor units). What a customer pays is the price of the
    partner's :class:`PartnerOffering` of it."""

    class Tier(models.TextChoices):
        BASIC = "basic", "Basic"
        PREMIUM = "premium", "Premium"
        EXPRESS = "express", "Express"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=120)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.BASIC)
    price_minor = models.PositiveIntegerField(
        help_text="List price in minor units (paise, cents); partners set their own."
    )
    currency = models.CharField(max_length=3, default="INR")
    duration_minutes = models.PositiveIntegerField(default=60)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["service_id", "price_minor", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "tier"], name="variant_unique_tier"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0), name="variant_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service.name} – {self.name}"


class Partner(models.Model):
    """A service provider in one city."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="partner",
    )
    name = models.CharField(max_length=150)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="partners")
    rating = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    verified = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    webhook_url = models.URLField(blank=True)
    webhook_secret = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["city", "active", "verified"], name="partner_city_active_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=0) & Q(rating__lte=5), name="partner_rating_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        if not adding:
            # Slots carry the partner's city (Slot.city, for the assignment index); a
            # partner that moves takes its slots along (zero rows when it did not move).
            Slot.objects.filter(partner_id=self.pk).exclude(city_id=self.city_id).update(
                city_id=self.city_id
            )


class PartnerOffering(models.Model):
    """A catalog variant a partner offers, at the partner's own price (minor units).

    A booking copies the price at booking time (``Booking.amount_minor``), so changing or
    deactivating an offering never touches existing bookings; an inactive offering takes
    no new bookings.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="offerings")
    variant = models.ForeignKey(ServiceVariant, on_delete=models.PROTECT, related_name="offerings")
    # The variant's service, copied (save() keeps it; a variant never changes service) so
    # that "does the partner offer the service" is one probe of offering_partner_service_idx
    # for every slot the assignment walks, as cheap as the partner-services table it replaced.
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False
    )
    price_minor = models.PositiveIntegerField(
        validators=[validate_price_minor], help_text="Price in minor units (paise, cents)."
    )
    currency = models.CharField(max_length=3)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner_id", "variant_id"]
        constraints = [
            # Also the index of "does the partner offer this variant" (booking, assignment).
            models.UniqueConstraint(fields=["partner", "variant"], name="offering_unique_variant"),
            models.CheckConstraint(condition=Q(price_minor__gt=0), name="offering_price_positive"),
        ]
        indexes = [
            models.Index(
                fields=["partner", "service"],
                name="offering_partner_service_idx",
                condition=Q(active=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} – {self.variant}"

    def save(self, *args, **kwargs):
        if self.variant_id is not None:
            self.service_id = self.variant.service_id
        super().save(*args, **kwargs)


class Staff(models.Model):
    """A service person working for a partner."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="staff")
    name = models.CharField(max_length=150)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "staff"

    def __str__(self) -> str:
        return f"{self.name} ({self.partner})"


class Slot(models.Model):
    """Bookable time of a partner. The row is the inventory: ``booked <= capacity``."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="slots")
    # The partner's city, copied (Partner.save keeps it in step) so that assignment walks
    # one city's open slots in start order through slot_open_city_start_idx instead of
    # every city's (issue 11: 38 ms -> a few ms at 10k partners / 1M slots).
    city = models.ForeignKey(
        City, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    capacity = models.PositiveIntegerField(default=1)
    booked = models.PositiveIntegerField(default=0)
    blocked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(booked__gte=0) & Q(booked__lte=F("capacity")),
                name="slot_booked_within_capacity",
            ),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="slot_end_after_start"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="slot_capacity_positive"),
            # Slots of one partner never overlap, whoever writes them (API, admin, bulk).
            TimeRangeExclusion(
                name="slot_no_overlap",
                start="start",
                end="end",
                equal="partner",
                violation_error_code="slot_overlap",
                violation_error_message="This slot overlaps another slot of the partner.",
            ),
        ]
        indexes = [
            # Listing a partner's slots by time.
            models.Index(fields=["partner", "start"], name="slot_partner_start_idx"),
            # Assignment: a city's open slots by time; rows leave the index when full or
            # blocked.
            models.Index(
                fields=["city", "start", "partner"],
                name="slot_open_city_start_idx",
                condition=Q(blocked=False) & Q(booked__lt=F("capacity")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.start:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.city_id is None and self.partner_id is not None:
            self.city_id = self.partner.city_id
        adding = self._state.adding
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if not adding and (update_fields is None or "capacity" in update_fields):
            # A slot of one seat type (the admin's plain capacity field): the type follows.
            # With several, the capacity is their sum and they are edited one by one.
            seat_types = SlotSeatType.objects.filter(slot_id=self.pk)
            if seat_types.count() == 1:
                seat_types.update(capacity=self.capacity)
        if adding:
            # A slot saved one by one (the admin) holds its seats as one ``standard`` type;
            # partners.services.create_slots writes the seat types it is given.
            SlotSeatType.objects.create(
                slot=self,
                code=STANDARD_SEAT_TYPE,
                label="Standard",
                capacity=self.capacity,
                booked=self.booked,
            )

    @property
    def available(self) -> int:
        return 0 if self.blocked else max(self.capacity - self.booked, 0)


STANDARD_SEAT_TYPE = "standard"


class SlotSeatType(models.Model):
    """One kind of seat of a slot (regular, front row, VIP...), with its own inventory.

    The slot's ``capacity`` and ``booked`` are the sums over its seat types: every writer
    changes a seat type's ``booked`` and the slot's in one transaction, the slot row
    first (the order all seat writers keep, so they queue instead of deadlocking). A slot
    created without seat types has one, ``standard``, holding its capacity. ``price_minor``
    overrides the price of the partner's offering for these seats (null: the offering's).
    """

    # No index of its own: seat_type_unique_code (slot, code) serves the slot's look-ups.
    slot = models.ForeignKey(
        Slot, on_delete=models.CASCADE, related_name="seat_types", db_index=False
    )
    code = models.SlugField(max_length=32, db_index=False)
    label = models.CharField(max_length=64, blank=True)
    capacity = models.PositiveIntegerField()
    booked = models.PositiveIntegerField(default=0)
    price_minor = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[validate_price_minor],
        help_text="Price per seat in minor units; empty: the partner's offering price.",
    )

    class Meta:
        ordering = ["slot_id", "id"]
        constraints = [
            # Also the index of the seat take (slot, code).
            models.UniqueConstraint(fields=["slot", "code"], name="seat_type_unique_code"),
            models.CheckConstraint(
                condition=Q(booked__gte=0) & Q(booked__lte=F("capacity")),
                name="seat_type_booked_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1), name="seat_type_capacity_positive"
            ),
            models.CheckConstraint(
                condition=Q(price_minor__isnull=True) | Q(price_minor__gt=0),
                name="seat_type_price_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.slot_id}/{self.code}"

    @property
    def available(self) -> int:
        return max(self.capacity - self.booked, 0)

    @property
    def display_label(self) -> str:
        return self.label or self.code.replace("-", " ").replace("_", " ").capitalize()
