from django.conf import settings
from django.db import models
from django.db.models import Q

from common.constraints import TimeRangeExclusion


class BookingStatus(models.TextChoices):
    PENDING_PAYMENT = "PENDING_PAYMENT", "Pending payment"
    CONFIRMED = "CONFIRMED", "Confirmed"
    PAYMENT_FAILED = "PAYMENT_FAILED", "Payment failed"
    EXPIRED = "EXPIRED", "Expired"
    CANCELLED = "CANCELLED", "Cancelled"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    AWAITING_COMPLETION = "AWAITING_COMPLETION", "Awaiting completion"
    COMPLETED = "COMPLETED", "Completed"


# States in which the booking holds seats of its slot.
SEAT_HOLDING_STATUSES = (
    BookingStatus.PENDING_PAYMENT,
    BookingStatus.CONFIRMED,
    BookingStatus.IN_PROGRESS,
    BookingStatus.AWAITING_COMPLETION,
    BookingStatus.COMPLETED,
)

# States in which the assigned staff member's time is taken (the slot's time range):
# cancelling, completing or rescheduling a booking frees it.
STAFF_BUSY_STATUSES = (
    BookingStatus.CONFIRMED,
    BookingStatus.IN_PROGRESS,
    BookingStatus.AWAITING_COMPLETION,
)


class Booking(models.Model):
    """A customer's booking of ``quantity`` seats of a slot, at a variant's price."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    slot = models.ForeignKey("partners.Slot", on_delete=models.PROTECT, related_name="bookings")
    # Copies of slot.start / slot.end: the staff exclusion constraint needs the time on this
    # row. Written with ``slot`` by every writer of it (book_slot, move_booking) and never
    # otherwise; a slot's times cannot change while it has bookings (partners admin).
    slot_start = models.DateTimeField()
    slot_end = models.DateTimeField()
    # Denormalised from the slot so partner listings need no join.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="bookings"
    )
    variant = models.ForeignKey(
        "partners.ServiceVariant", on_delete=models.PROTECT, related_name="bookings"
    )
    # The slot's seat type (SlotSeatType.code) the seats are of; kept by moves unless the
    # customer picks another, and released to it.
    seat_type = models.SlugField(max_length=32, default="standard", db_index=False)
    quantity = models.PositiveIntegerField(default=1)
    # The partner's price at booking time (or the seat type's) x quantity: later price
    # changes never touch it.
    amount_minor = models.PositiveIntegerField(help_text="Total in minor units.")
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=24, choices=BookingStatus.choices, default=BookingStatus.PENDING_PAYMENT
    )
    # True while the booking's seats are counted in slot.booked; flipped in the same
    # conditional UPDATE that releases or re-takes them, so seats move exactly once.
    holds_seats = models.BooleanField(default=True)
    # Counted in the customer's PendingBookings while unpaid (a waitlist offer, made by the
    # system while the slot row is locked, is not: it never locks the customer's count).
    counts_as_pending = models.BooleanField(default=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    assigned_staff = models.ForeignKey(
        "partners.Staff",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
    )
    # Moves by the customer (at most RESCHEDULE_MAX_TIMES), counted in the moving UPDATE.
    reschedule_count = models.PositiveSmallIntegerField(default=0)
    # Set when a partner's cancellation moved the booking to another partner: cancelling it
    # before it starts is then a full refund whatever the tiers (refunds.policy).
    reassigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="booking_quantity_positive"),
            # A staff member cannot be in two places: even two concurrent assignments of
            # one person to overlapping bookings cannot both commit.
            TimeRangeExclusion(
                name="booking_staff_no_overlap",
                start="slot_start",
                end="slot_end",
                equal="assigned_staff",
                condition=Q(status__in=STAFF_BUSY_STATUSES, assigned_staff__isnull=False),
                violation_error_code="staff_busy",
                violation_error_message="The staff member has another booking at that time.",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="booking_customer_idx"),
            models.Index(fields=["partner", "-created_at"], name="booking_partner_idx"),
            models.Index(
                fields=["hold_expires_at"],
                name="booking_pending_hold_idx",
                condition=Q(status="PENDING_PAYMENT"),
            ),
        ]

    def __str__(self) -> str:
        return f"Booking #{self.pk} ({self.status})"


class BookingEvent(models.Model):
    """One step of a booking's timeline (audit log)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    kind = models.CharField(
        max_length=40, default="transition", help_text="transition, staff_assigned, note ..."
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(
        max_length=64, blank=True, help_text="Who acted when not a user: system, razorpay ..."
    )
    reason = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["booking", "at"], name="booking_event_idx")]

    def __str__(self) -> str:
        return f"{self.booking_id}: {self.from_status} -> {self.to_status}"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Offered"
    BOOKED = "booked", "Booked"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


# An entry in one of these states keeps the customer's place on the slot.
ACTIVE_WAITLIST_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(models.Model):
    """A customer waiting for ``quantity`` seats of a full slot (bookings.waitlist).

    Line order is the id (join order). When seats come free the first waiting entries
    whose quantity fits get a PENDING_PAYMENT booking with the usual hold
    (``offered_booking``); the entry then follows that booking: CONFIRMED -> booked,
    EXPIRED / PAYMENT_FAILED -> expired, CANCELLED -> cancelled.
    """

    slot = models.ForeignKey("partners.Slot", on_delete=models.CASCADE, related_name="waitlist")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    variant = models.ForeignKey(
        "partners.ServiceVariant", on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    # The line is per seat type: freed seats of a type go to the first waiting for it.
    seat_type = models.SlugField(max_length=32, default="standard", db_index=False)
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    offered_booking = models.OneToOneField(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="waitlist_entry",
    )
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="waitlist_quantity_positive"),
            models.UniqueConstraint(
                fields=["slot", "customer"],
                condition=Q(status__in=["waiting", "offered"]),
                name="waitlist_one_active_entry_per_customer",
            ),
        ]
        indexes = [
            # The line of a slot, in order (promotion and positions).
            models.Index(
                fields=["slot", "id"],
                name="waitlist_queue_idx",
                condition=Q(status="waiting"),
            ),
            models.Index(fields=["customer", "-created_at"], name="waitlist_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"Waitlist #{self.pk} slot {self.slot_id} ({self.status})"


class PendingBookings(models.Model):
    """How many unpaid (PENDING_PAYMENT) bookings a customer holds.

    The ``MAX_PENDING_BOOKINGS`` cap is checked and counted by one conditional upsert of
    this row (``bookings.pending``): concurrent bookings of one customer queue on it, so
    they cannot all slip under the cap. ``book_slot`` adds one; ``transition_booking``
    takes one off when a booking leaves PENDING_PAYMENT.
    """

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "pending bookings"

    def __str__(self) -> str:
        return f"{self.count} unpaid booking(s) of user {self.customer_id}"
