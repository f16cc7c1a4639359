from django.db import models


class OtpPurpose(models.TextChoices):
    ARRIVAL = "arrival", "Arrival"
    COMPLETION = "completion", "Completion"


class BookingOtp(models.Model):
    """A one-time code for a booking step. Only a keyed hash of the code is stored."""

    booking = models.ForeignKey("bookings.Booking", on_delete=models.CASCADE, related_name="otps")
    purpose = models.CharField(max_length=16, choices=OtpPurpose.choices)
    code_hash = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer code of the same purpose replaces this one.
    superseded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "booking OTP"
        indexes = [
            models.Index(
                fields=["booking", "purpose", "-created_at"], name="otp_booking_purpose_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} OTP for booking {self.booking_id}"
