import hashlib

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max, Q

from common.locking import lock
from refunds.policy import validate_tiers


def default_tiers() -> list[dict]:
    """The default tiers (docs/architecture.md): >=24 h 100 %, 12-24 h 50 %, under 12 h 0 %."""
    return [
        {"min_hours_before": 24, "percent": 100},
        {"min_hours_before": 12, "percent": 50},
        {"min_hours_before": 0, "percent": 0},
    ]


class RefundPolicy(models.Model):
    """Refund tiers as data, editable by support staff; refunds record the version used."""

    name = models.CharField(max_length=100, default="Default")
    version = models.PositiveIntegerField(
        unique=True, blank=True, help_text="Left blank: the next version number."
    )
    active = models.BooleanField(default=False)
    tiers = models.JSONField(
        default=default_tiers,
        help_text="List of {min_hours_before, percent}, highest threshold first.",
    )
    provider_cancel_percent = models.PositiveSmallIntegerField(default=100)
    unassigned_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Customer cancels before any staff member is assigned."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "refund policies"
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="one_active_refund_policy"
            ),
            models.CheckConstraint(
                condition=Q(provider_cancel_percent__lte=100) & Q(unassigned_percent__lte=100),
                name="refund_policy_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        """A new version gets the next number; saving an active policy deactivates the
        previously active one in the same transaction (one active policy, also a
        constraint)."""
        with transaction.atomic():
            if self.version is None:
                current = RefundPolicy.objects.aggregate(top=Max("version"))
                self.version = (current["top"] or 0) + 1
            if self.active:
                others = lock(RefundPolicy.objects.filter(active=True))
                if self.pk:
                    others = others.exclude(pk=self.pk)
                others.update(active=False)
            super().save(*args, **kwargs)

    def validate_constraints(self, exclude=None) -> None:
        # "One active policy" is kept by save(), which deactivates the previous version.
        super().validate_constraints(exclude={*(exclude or ()), "active"})

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        try:
            validate_tiers(self.tiers)
        except ValidationError as exc:
            raise ValidationError({"tiers": exc.messages}) from None
        errors = {}
        for field in ("provider_cancel_percent", "unassigned_percent"):
            value = getattr(self, field)
            if value is None or not 0 <= value <= 100:
                errors[field] = "Must be from 0 to 100."
        if errors:
            raise ValidationError(errors)


class RefundTerms(models.Model):
    """The refund tiers a booking was made under: a copy of the active
    :class:`RefundPolicy` taken when the booking was created (``booking_created``), so a
    later policy change never changes the refund of a booking already made. Owned by
    refunds, keyed by the booking (bookings knows nothing of refund policies)."""

    booking = models.OneToOneField(
        "bookings.Booking",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="refund_terms",
    )
    policy_version = models.PositiveIntegerField()
    tiers = models.JSONField()
    provider_cancel_percent = models.PositiveSmallIntegerField()
    unassigned_percent = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "refund terms"

    def __str__(self) -> str:
        return f"Refund terms of booking {self.booking_id} (policy v{self.policy_version})"

    @property
    def version(self) -> int:
        """The policy version, under the name :class:`RefundPolicy` gives it (refunds
        record it as ``policy_version``)."""
        return self.policy_version


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        NOT_REQUIRED = "not_required", "Not required"

    class Source(models.TextChoices):
        CANCELLATION = "cancellation", "Cancellation"
        LATE_CAPTURE = "late_capture", "Late capture"
        MANUAL = "manual", "Manual (support)"
        DISPUTE = "dispute", "Dispute resolution"

    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="refunds"
    )
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, related_name="refunds", null=True, blank=True
    )
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    gateway_refund_id = models.CharField(max_length=255, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Bumped when support retries a refund the gateway itself reported failed: that retry
    # is a new refund at the gateway, and the old key would only replay the failed one.
    key_round = models.PositiveSmallIntegerField(default=0)
    # The round-0 idempotency key, fixed when the refund is created (refund_key_base) and
    # never recomputed, so every attempt of this refund sends the same key.
    key_base = models.CharField(max_length=64, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__lte=100), name="refund_percent_range"
            ),
            models.UniqueConstraint(
                fields=["gateway_refund_id"],
                condition=~Q(gateway_refund_id=""),
                name="refund_gateway_id_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "updated_at"],
                name="refund_in_flight_idx",
                condition=Q(status__in=["pending", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} {self.amount_minor} {self.currency} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        # The key needs the id, so it is set right after the first insert.
        super().save(*args, **kwargs)
        if not self.key_base:
            order_id = self.payment.order_id if self.payment_id else ""
            self.key_base = refund_key_base(refund_id=self.pk, order_id=order_id)
            Refund.objects.filter(pk=self.pk, key_base="").update(key_base=self.key_base)

    @property
    def idempotency_key(self) -> str:
        """Sent with every gateway attempt of this refund (task retries, sweeps, support
        retries after errors), so the gateway refunds at most once per round. The
        gateway refund carries it in its notes/metadata too: refund webhooks name the
        refund they are about by it."""
        return self.idempotency_key_of_round(self.key_round)

    def idempotency_key_of_round(self, key_round: int) -> str:
        if not self.key_base:
            raise ValueError("an unsaved refund has no idempotency key")
        return self.key_base if key_round == 0 else f"{self.key_base}-round{key_round}"


def refund_key_base(*, refund_id: int, order_id: str) -> str:
    """``slotwise-refund-<id>-<12 hex of sha256(order id)>``.

    Refund ids repeat across databases that share one gateway account (staging and
    production, two deployments), and the gateway would answer a repeated key with the
    other database's refund instead of making ours. The payment's order/session id was
    issued by that gateway account, so it is unique there and the key with it. Razorpay
    wants 10+ characters of ``[A-Za-z0-9_-]``.
    """
    digest = hashlib.sha256(order_id.encode()).hexdigest()[:12]
    return f"slotwise-refund-{refund_id}-{digest}"


class Dispute(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED_REFUND = "resolved_refund", "Resolved with refund"
        REJECTED = "rejected", "Rejected"
        # A gateway dispute (chargeback) the gateway decided: see ``outcome``.
        CLOSED = "closed", "Closed at the gateway"

    class Outcome(models.TextChoices):
        NONE = "", "Undecided"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        # Closed without a chargeback (Stripe ``warning_closed``, Razorpay ``closed``).
        CLOSED = "closed", "Closed"

    class Source(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        GATEWAY = "gateway", "Gateway"

    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="disputes"
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="disputes_raised",
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CUSTOMER)
    gateway_dispute_id = models.CharField(max_length=255, blank=True)
    # The gateway's side of a chargeback, as its latest event says it.
    gateway_status = models.CharField(max_length=32, blank=True)
    amount_minor = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    evidence_due_by = models.DateTimeField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True, default="")
    # Money that left with a lost chargeback; counted like a refund in the money invariant.
    lost_amount_minor = models.PositiveIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="disputes_resolved",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    refund = models.OneToOneField(
        Refund, on_delete=models.SET_NULL, null=True, blank=True, related_name="dispute"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["booking"], condition=Q(status="open"), name="one_open_dispute_per_booking"
            ),
            models.UniqueConstraint(
                fields=["gateway_dispute_id"],
                condition=~Q(gateway_dispute_id=""),
                name="dispute_gateway_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute #{self.pk} on booking {self.booking_id} ({self.status})"


# Module-level names for the API schema's enum names (settings.SPECTACULAR_SETTINGS).
RefundStatus = Refund.Status
RefundSource = Refund.Source
DisputeStatus = Dispute.Status
DisputeSource = Dispute.Source
DisputeOutcome = Dispute.Outcome
