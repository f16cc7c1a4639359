"""Cancelling a booking, by its customer or its provider, with the policy's refund."""

from __future__ import annotations

from typing import Literal, NamedTuple

from django.db import transaction
from django.utils import timezone

from bookings.errors import AlreadyCancelled, BookingNotFound, InvalidTransition
from bookings.models import Booking, BookingStatus
from bookings.reassignment import reassign_booking
from bookings.transitions import transition_booking
from payments.services import lock_payment_of_booking
from refunds.models import Refund
from refunds.policy import refund_amount, refund_percent
from refunds.services import create_refund, refundable_amount
from refunds.services.terms import refund_terms_of

CANCELLABLE_STATUSES = (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED)


class Cancellation(NamedTuple):
    """What a cancel request did: ``outcome`` is ``"refunded"`` (the booking is
    CANCELLED; ``refund`` is its refund, None when nothing was paid) or ``"reassigned"``
    (a provider cancel moved the booking to another partner; no refund)."""

    booking: Booking
    refund: Refund | None
    outcome: Literal["refunded", "reassigned"]


def _owned_booking(*, booking_id: int, actor, by: str, on_behalf: bool) -> Booking:
    queryset = Booking.objects.select_related("slot")
    if by not in ("customer", "provider"):
        raise ValueError(f"unknown canceller {by!r}")
    if not on_behalf:  # support, acting for the customer or partner, may see any booking
        owner = {"customer": "customer_id", "provider": "partner__user_id"}[by]
        queryset = queryset.filter(**{owner: actor.pk})
    booking = queryset.filter(pk=booking_id).first()
    if booking is None:
        raise BookingNotFound()
    return booking


@transaction.atomic
def cancel_booking(
    *,
    booking_id: int,
    actor,
    by: Literal["customer", "provider"],
    reason: str,
    on_behalf: bool = False,
) -> Cancellation:
    """Cancel a PENDING_PAYMENT or CONFIRMED booking and record its refund, atomically.

    A provider cancelling a CONFIRMED booking first has it reassigned: when another
    partner has a free slot at the same time (:func:`bookings.reassignment.
    reassign_booking`), the booking moves there, stays CONFIRMED with its payment, and
    the outcome is ``"reassigned"``; otherwise it is cancelled with the refund below.

    One transaction: the payment row is locked first (``common.locking`` order: payment,
    then booking), the booking moves to CANCELLED with a conditional
    UPDATE (seats released exactly once, timeline event, status signal), and when money
    was captured the refund is computed from the booking's own refund terms (the
    policy active when it was booked, :class:`~refunds.models.RefundTerms`) at this
    instant and recorded through :func:`refunds.services.create_refund` (executed by
    Celery after commit). A 0 % refund is recorded as NOT_REQUIRED; a booking with
    nothing captured gets no refund (returns ``None``).

    Only the booking's customer (``by="customer"``) or its partner (``by="provider"``)
    may cancel; anyone else gets 404. Raises :class:`AlreadyCancelled` (409
    ``already_cancelled``) when it is already cancelled (concurrently or earlier) and
    :class:`InvalidTransition` (409) from any other state; nothing is written then.

    ``on_behalf=True`` is support cancelling for the customer or the partner (the admin,
    which has checked the staff member's permission): any booking, the same rules and
    refund as if ``by`` had cancelled, ``actor`` the staff member on the timeline.
    """
    booking = _owned_booking(booking_id=booking_id, actor=actor, by=by, on_behalf=on_behalf)
    payment = lock_payment_of_booking(booking_id=booking.pk)
    if by == "provider":
        moved = reassign_booking(booking_id=booking.pk, actor=actor, reason=reason)
        if moved is not None:
            return Cancellation(moved, None, "reassigned")
    try:
        booking, _previous = transition_booking(
            booking_id=booking.pk,
            from_statuses=CANCELLABLE_STATUSES,
            to_status=BookingStatus.CANCELLED,
            actor=actor,
            reason=reason,
            release_seats=True,
            data={"cancelled_by": by, **({"on_behalf": True} if on_behalf else {})},
        )
    except InvalidTransition:
        current = Booking.objects.filter(pk=booking.pk).values_list("status", flat=True).first()
        if current == BookingStatus.CANCELLED:
            raise AlreadyCancelled() from None
        raise

    if payment is None or payment.captured_amount_minor == 0:
        return Cancellation(booking, None, "refunded")
    policy = refund_terms_of(booking=booking)  # the terms fixed when it was booked
    percent = refund_percent(
        policy=policy,
        by=by,
        staff_assigned=booking.assigned_staff_id is not None,
        now=timezone.now(),
        slot_start=booking.slot.start,
        reassigned=booking.reassigned_at is not None,
    )
    amount = min(
        refund_amount(payment.captured_amount_minor, percent),
        refundable_amount(payment=payment),
    )
    refund = create_refund(
        booking=booking,
        payment=payment,
        amount_minor=amount,
        source=Refund.Source.CANCELLATION,
        reason=f"Cancelled by {by}{' (support)' if on_behalf else ''}: {reason}"[:255],
        actor=actor,
        percent=percent,
        policy_version=policy.version,
    )
    return Cancellation(booking, refund, "refunded")
