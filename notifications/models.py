from django.db import models


class OutboxMessage(models.Model):
    """Transactional outbox: written in the same transaction as the state change it reports.

    A dispatcher task claims pending rows, delivers them and marks them sent, so a
    crash between commit and delivery loses nothing and a row is delivered once.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        WEBHOOK = "webhook", "Partner webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # Not sent because it no longer applied (e.g. a code for a booking that moved on).
        SKIPPED = "skipped", "Skipped"

    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(
        max_length=64, help_text="<subject>.<event>: booking.confirmed, otp.arrival, ..."
    )
    recipient = models.CharField(max_length=500)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # Set for messages that must exist at most once (e.g. the reminder of a booking).
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbox_messages",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    available_at = models.DateTimeField(help_text="Not delivered before this time.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["available_at"],
                name="outbox_pending_idx",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.kind} -> {self.recipient} ({self.status})"
