from django.db import models


class Gateway(models.TextChoices):
    RAZORPAY = "razorpay", "Razorpay"
    STRIPE = "stripe", "Stripe"
    SANDBOX = "sandbox", "Sandbox"


class Payment(models.Model):
    """The gateway order/session of one booking (one per booking)."""

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        CAPTURED = "captured", "Captured"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"

    booking = models.OneToOneField(
        "bookings.Booking", on_delete=models.PROTECT, related_name="payment"
    )
    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    order_id = models.CharField(max_length=255, unique=True, help_text="Order or session id.")
    payment_id = models.CharField(max_length=255, blank=True, db_index=True)
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    captured_amount_minor = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.CREATED)
    checkout_url = models.URLField(max_length=1000, blank=True)
    # Amount/currency mismatches and other anomalies support must look at.
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="Gateway's order response.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.order_id}"


class Outcome(models.TextChoices):
    """The outcome of one webhook delivery: stored on its ledger row and answered to the
    gateway (``duplicate``: a delivery of an event already in the ledger, never stored)."""

    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FLAGGED = "flagged", "Flagged"
    FAILED = "failed", "Failed"
    DUPLICATE = "duplicate", "Duplicate"


class EventSource(models.TextChoices):
    """Where a ledger entry came from: a gateway's webhook, or our own look-up of the
    gateway (reconciliation), applied through the same handlers."""

    WEBHOOK = "webhook", "Webhook"
    RECONCILIATION = "reconciliation", "Reconciliation"


class WebhookEvent(models.Model):
    """Ledger of every verified incoming gateway event, claimed before it is processed,
    and of what reconciliation learnt by asking the gateway (``source``)."""

    Outcome = Outcome
    Source = EventSource

    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    source = models.CharField(
        max_length=16, choices=EventSource.choices, default=EventSource.WEBHOOK, db_index=True
    )
    raw_body = models.TextField(blank=True)
    # SHA-256 of the signed raw body: the same signed body is one event whatever event-id
    # header comes with it (headers are not signed). Empty on rows from before it existed.
    body_sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    detail = models.TextField(blank=True)
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_events",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "event_id"], name="webhook_event_unique_per_gateway"
            ),
            models.UniqueConstraint(
                fields=["gateway", "body_sha256"],
                condition=~models.Q(body_sha256=""),
                name="webhook_event_unique_body_per_gateway",
            ),
        ]
        indexes = [
            # The sweep's look-up of recorded deliveries not applied yet (a handful at
            # most): the index holds only those rows.
            models.Index(
                fields=["received_at"],
                condition=models.Q(outcome="pending"),
                name="webhook_event_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.event_type}:{self.event_id}"


# For drf-spectacular's ENUM_NAME_OVERRIDES (it imports choices by dotted module path).
PaymentStatus = Payment.Status
