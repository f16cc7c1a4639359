from celery import shared_task

from bookings.reminders import queue_due_reminders
from bookings.services import expire_due_holds


@shared_task(name="bookings.tasks.expire_holds")
def expire_holds() -> int:
    """Beat task (every minute): unpaid bookings past their hold -> EXPIRED, seats released.

    Safe to run twice or on two workers at once: each booking is expired by a
    conditional transition, exactly once. Returns how many this run expired.
    """
    return expire_due_holds()


@shared_task(name="bookings.tasks.enqueue_booking_reminders")
def enqueue_booking_reminders() -> int:
    """Queue the "starts soon" reminder of confirmed bookings, once per booking."""
    return queue_due_reminders()
