"""What customers and partners hear about a booking, written to the outbox.

Bookings owns the booking's words: :func:`booking_context` snapshots the fields a message
may use when the message is written, so delivery (``notifications``, a lower layer) never
reads a booking. The receiver below runs inside the transaction of a status change (see
``bookings.signals``): it only writes outbox rows, which commit or roll back with the
change; delivery happens after commit.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.dispatch import receiver

from bookings.models import Booking, BookingStatus
from bookings.signals import booking_moved, booking_status_changed
from notifications.messages import Kind
from notifications.models import OutboxMessage
from notifications.services import notify, queue_partner_webhook
from partners.models import Partner, Slot

# The booking statuses a partner hears about, and the event type of each.
PARTNER_EVENT_TYPES: dict[str, str] = {
    BookingStatus.CONFIRMED: "booking.confirmed",
    BookingStatus.CANCELLED: "booking.cancelled",
    BookingStatus.IN_PROGRESS: "booking.in_progress",
    BookingStatus.AWAITING_COMPLETION: "booking.awaiting_completion",
    BookingStatus.COMPLETED: "booking.completed",
}


def local_time(moment, partner: Partner) -> str:
    """``moment`` as messages show it, ``YYYY-MM-DD HH:MM ZONE`` in the time zone of the
    partner's city; in UTC when the shift would leave the calendar (a slot stored near
    year 1 or 9999 must not fail a booking step)."""
    try:
        tz = ZoneInfo(partner.city.time_zone or "UTC")
    except (ValueError, ZoneInfoNotFoundError):  # a bad zone must not block a booking step
        tz = ZoneInfo("UTC")
    try:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    except (OverflowError, ValueError):
        return moment.strftime("%Y-%m-%d %H:%M UTC")


def booking_context(booking: Booking) -> dict[str, Any]:
    """The fields every booking message may use, with times in the city's time zone."""
    return {
        "booking_id": booking.pk,
        "service": booking.variant.service.name,
        "variant": booking.variant.name,
        "partner": booking.partner.name,
        "start": local_time(booking.slot.start, booking.partner),
    }


def notify_customer(
    *,
    kind: str,
    booking: Booking,
    context: dict[str, Any] | None = None,
    once_key: str | None = None,
) -> list[OutboxMessage]:
    """Queue a message about ``booking`` to its customer (email and/or SMS).

    Joins the caller's transaction; see :func:`notifications.services.notify` for the
    kinds, ``context`` (extra text fields) and ``once_key``.
    """
    return notify(
        kind=kind,
        recipients=[booking.customer],
        context={**booking_context(booking), **(context or {})},
        booking_id=booking.pk,
        once_key=once_key,
    )


def partner_event_data(
    *, booking: Booking, previous_status: str, slot: Slot | None = None
) -> dict[str, Any]:
    """The data of a partner webhook event (no codes, no contact details, no secrets).

    ``slot`` (default the booking's) is the slot the partner knows the booking by: the
    partner a booking was reassigned away from hears about its own, old slot.
    """
    slot = slot or booking.slot
    return {
        "booking_id": booking.pk,
        "status": booking.status,
        "previous_status": previous_status,
        "partner_id": slot.partner_id,
        "slot_id": slot.pk,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "service": booking.variant.service.name,
        "variant": booking.variant.name,
        "quantity": booking.quantity,
        "amount": booking.amount_minor,
        "currency": booking.currency,
        "customer_name": booking.customer.name,
    }


def queue_partner_event(
    *,
    booking: Booking,
    event_type: str,
    previous_status: str,
    slot: Slot | None = None,
    extra: dict[str, Any] | None = None,
    url: str | None = None,
) -> OutboxMessage | None:
    """Queue ``event_type`` about ``booking`` to the webhook (if any) of the partner of
    ``slot`` (default: the booking's), with ``extra`` fields in the data. ``url``: the
    partner's webhook URL when it was read in this transaction."""
    data = partner_event_data(booking=booking, previous_status=previous_status, slot=slot)
    return queue_partner_webhook(
        partner_id=data["partner_id"],
        booking_id=booking.pk,
        event_type=event_type,
        data={**data, **(extra or {})},
        url=url,
    )


@receiver(booking_status_changed, dispatch_uid="bookings.notices.customer")
def tell_customer(*, booking, from_status, to_status, reason="", **kwargs) -> None:
    if to_status == BookingStatus.CONFIRMED:
        notify_customer(kind=Kind.BOOKING_CONFIRMED, booking=booking)
    elif to_status == BookingStatus.CANCELLED:
        notify_customer(kind=Kind.BOOKING_CANCELLED, booking=booking, context={"reason": reason})


@receiver(booking_status_changed, dispatch_uid="bookings.notices.partner_webhook")
def tell_partner(*, booking, from_status, to_status, **kwargs) -> None:
    """Partners hear about the statuses of :data:`PARTNER_EVENT_TYPES`, except the
    cancellation of a booking that was never confirmed (they never heard of it)."""
    event_type = PARTNER_EVENT_TYPES.get(to_status)
    if event_type is None:
        return
    if to_status == BookingStatus.CANCELLED and from_status == BookingStatus.PENDING_PAYMENT:
        return
    queue_partner_event(
        booking=booking,
        event_type=event_type,
        previous_status=from_status,
        url=booking.partner.webhook_url,
    )


@receiver(booking_moved, dispatch_uid="bookings.notices.moved")
def tell_about_move(*, booking, kind, from_slot, from_partner_id, **kwargs) -> None:
    """A reschedule: the customer's email, and the partner's ``booking.rescheduled`` when
    it knew the booking (confirmed). A reassignment: the customer's email and
    ``booking.reassigned`` to both partners, each about its own slot (the old partner does
    not learn who took the job over)."""
    old_partner = Partner.objects.select_related("city").get(pk=from_partner_id)
    previous = {
        "previous_slot_id": from_slot.pk,
        "previous_start": from_slot.start.isoformat(),
        "previous_end": from_slot.end.isoformat(),
    }
    if kind == "rescheduled":
        notify_customer(
            kind=Kind.BOOKING_RESCHEDULED,
            booking=booking,
            context={"previous_start": local_time(from_slot.start, old_partner)},
        )
        if booking.status == BookingStatus.CONFIRMED:
            queue_partner_event(
                booking=booking,
                event_type="booking.rescheduled",
                previous_status=booking.status,
                extra=previous,
            )
    elif kind == "reassigned":
        notify_customer(
            kind=Kind.BOOKING_REASSIGNED,
            booking=booking,
            context={"previous_partner": old_partner.name},
        )
        queue_partner_event(
            booking=booking,
            event_type="booking.reassigned",
            previous_status=booking.status,
            slot=from_slot,
            extra={"direction": "away"},
        )
        queue_partner_event(
            booking=booking,
            event_type="booking.reassigned",
            previous_status=booking.status,
            extra={"direction": "to_you"},
        )
