"""Celery tasks of the waitlist (registered when ``bookings.receivers_waitlist`` is
imported by ``BookingsConfig.ready``)."""

from celery import shared_task

from bookings.waitlist import promote_and_offer, sweep_waitlists


@shared_task(name="bookings.waitlist.promote")
def promote_waitlist_task(slot_id: int) -> list[int]:
    """Offer a slot's free seats to its waitlist, then start the payments and messages.

    Idempotent: a second run finds no free seat (or no waiting entry) and offers
    nothing; a run for a slot that is still full does nothing.
    """
    return promote_and_offer(slot_id=slot_id)


@shared_task(name="bookings.waitlist.sweep")
def sweep_waitlists_task() -> list[int]:
    """Periodic safety net: expire entries of started slots, promote slots with room."""
    return sweep_waitlists()
