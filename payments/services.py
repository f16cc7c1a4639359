"""Payment state: apply gateway outcomes (captures, failures, the checkout callback), lock
and flag payments; with :mod:`payments.orders` (starting a payment), the only writers of
:class:`~payments.models.Payment` rows.

Booking status changes go through :mod:`bookings.transitions`. Refunds and disputes
(a higher layer) change a payment only through the functions here (:func:`lock_payment`,
:func:`flag_payment`, :func:`record_refunded_amount`), and hear about a capture that
must be refunded through :data:`payments.signals.capture_needs_refund`. No gateway HTTP
runs inside a transaction here.
"""

from __future__ import annotations

import enum
import logging

from django.db import transaction
from django.utils import timezone

from bookings.errors import InvalidTransition
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.transitions import record_event, take_seats, transition_booking
from common.locking import lock
from payments.errors import (
    InvalidSignatureProblem,
    PaymentNotFound,
    WrongGateway,
)
from payments.gateways import (
    InvalidSignature,
    get_gateway,
)
from payments.models import Gateway, Payment
from payments.signals import capture_needs_refund

logger = logging.getLogger(__name__)


# States past confirmation: a capture there is a repeat and changes nothing.
CONFIRMED_OR_LATER = (
    BookingStatus.CONFIRMED,
    BookingStatus.IN_PROGRESS,
    BookingStatus.AWAITING_COMPLETION,
    BookingStatus.COMPLETED,
)
# States a late capture can still confirm from, when the seats can be taken again.
LATE_CAPTURE_STATUSES = (
    BookingStatus.PENDING_PAYMENT,
    BookingStatus.PAYMENT_FAILED,
    BookingStatus.EXPIRED,
)


class Effect(enum.StrEnum):
    """What applying one gateway signal did (listed in the webhook ledger row's detail;
    the row's own outcome is :class:`payments.models.Outcome`)."""

    CONFIRMED = "confirmed"
    ALREADY_DONE = "already_done"
    FLAGGED = "flagged"
    REFUND_QUEUED = "refund_queued"
    FAILED = "failed"
    RECONCILED = "reconciled"
    DISPUTE_RECORDED = "dispute_recorded"
    NO_EFFECT = "no_effect"


def lock_payment(payment_id: int) -> Payment:
    """The payment row, locked for the rest of the transaction (``common.locking``: a
    payment before its booking). Captures, failures, refunds and gateway disputes of one
    payment are serialised on this row (customer disputes rely on a conditional update
    and a unique constraint instead)."""
    return lock(Payment.objects.filter(pk=payment_id)).get()


def lock_payment_of_booking(*, booking_id: int) -> Payment | None:
    """The booking's payment, locked (see :func:`lock_payment`); None when it has none."""
    return lock(Payment.objects.filter(booking_id=booking_id)).first()


def flag_payment(*, payment_id: int, reason: str) -> None:
    """Flag a payment for support with ``reason`` (e.g. a refund the gateway failed).
    Call with the payment locked."""
    Payment.objects.filter(pk=payment_id).update(
        flagged=True, flag_reason=reason[:255], updated_at=timezone.now()
    )


def record_refunded_amount(*, payment_id: int, succeeded_minor: int) -> None:
    """The payment's status follows the sum of its succeeded refunds: captured,
    partially_refunded or refunded. Only a captured payment moves. Call with the payment
    locked (the refunds app, whenever a refund succeeds or fails after success)."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.captured_amount_minor <= 0:
        return
    if succeeded_minor <= 0:
        new_status = Payment.Status.CAPTURED
    elif succeeded_minor >= payment.captured_amount_minor:
        new_status = Payment.Status.REFUNDED
    else:
        new_status = Payment.Status.PARTIALLY_REFUNDED
    Payment.objects.filter(
        pk=payment_id,
        status__in=(
            Payment.Status.CAPTURED,
            Payment.Status.PARTIALLY_REFUNDED,
            Payment.Status.REFUNDED,
        ),
    ).update(status=new_status, updated_at=timezone.now())


def flag_payment_once(
    *,
    payment: Payment,
    reason: str,
    label: str,
    data: dict,
    finding: dict,
    updates: dict | None = None,
) -> bool:
    """Flag ``payment`` for support, once per ``finding`` (the entries of ``data`` that
    name what is wrong, e.g. the gateway payment id and amount of a short capture), with
    ``updates`` applied to the payment in the same UPDATE.

    The booking timeline keeps every flag, cleared or not: a finding already on it is not
    flagged again, so a replay or redelivery of the event neither re-flags a payment
    support has cleared nor adds a timeline entry. Returns whether it flagged. Call with
    the payment row locked (concurrent deliveries of one finding flag it once).
    """
    lookups = {f"data__{key}": value for key, value in finding.items()}
    if BookingEvent.objects.filter(
        booking_id=payment.booking_id, kind="payment_flagged", **lookups
    ).exists():
        return False
    Payment.objects.filter(pk=payment.pk).update(
        flagged=True, flag_reason=reason[:255], updated_at=timezone.now(), **(updates or {})
    )
    record_event(
        booking_id=payment.booking_id,
        kind="payment_flagged",
        actor_label=label,
        reason=reason,
        data={**data, **finding},
    )
    return True


@transaction.atomic
def record_capture(
    *,
    payment: Payment,
    gateway_payment_id: str,
    amount_minor: int | None,
    currency: str | None,
    label: str,
    data: dict | None = None,
) -> Effect:
    """Apply "the gateway captured money for this payment" exactly once.

    Atomic (joins the caller's transaction); the payment row is locked first, then the
    booking moves through :func:`transition_booking`. Guarantees:

    - no amount, no currency or no gateway payment id: the payment is flagged, once,
      and nothing is confirmed -> FLAGGED;
    - amount or currency different from the payment's:
      the payment is flagged for support, once per capture (a replay or another event
      of it never flags again, even after support cleared the flag), the booking is
      untouched -> FLAGGED; while the flag stands, no capture of that payment changes
      anything;
    - a capture of an already captured payment changes nothing (duplicate under another
      event id, ``order.paid`` after ``payment.captured``, verify endpoint vs webhook)
      -> ALREADY_DONE, unless the booking is still PENDING_PAYMENT;
    - otherwise the payment becomes CAPTURED and the booking CONFIRMED from
      PENDING_PAYMENT, or from PAYMENT_FAILED/EXPIRED when its seats can be taken again
      (late capture) -> CONFIRMED; a booking that is CANCELLED, or whose seats are gone,
      keeps its status and a full refund is queued -> REFUND_QUEUED;
    - a booking already CONFIRMED or later is never moved -> ALREADY_DONE.
    """
    data = {**(data or {}), "payment_id": gateway_payment_id}
    payment = lock_payment(payment.pk)
    # What names this capture: a replay or another event of it is the same finding.
    finding = {"payment_id": gateway_payment_id, "amount": amount_minor, "currency": currency}
    if amount_minor is None or not currency or not gateway_payment_id:
        # Never confirm on an amount nobody verified (a missing or non-integer amount, no
        # currency, no gateway payment to refund from): support looks at it, once.
        flag_payment_once(
            payment=payment,
            reason="The gateway reported a capture without a verifiable amount, currency "
            "or payment id.",
            label=label,
            data=data,
            finding=finding,
        )
        return Effect.FLAGGED
    if amount_minor != payment.amount_minor or (currency or "").upper() != payment.currency.upper():
        reason = (
            f"Paid {amount_minor} {currency} but the booking costs "
            f"{payment.amount_minor} {payment.currency}."
        )
        first_capture = payment.status in (Payment.Status.CREATED, Payment.Status.FAILED)
        updates = {}
        if first_capture and (currency or "").upper() == payment.currency.upper():
            # Real money was taken: record it so support can refund it from the admin.
            # Never after a capture (refunded or not): what was captured is the ceiling of
            # every refund and must not move.
            updates.update(
                status=Payment.Status.CAPTURED,
                captured_amount_minor=amount_minor,
                payment_id=gateway_payment_id or payment.payment_id,
            )
        # Once per capture: a replay, or another event of the same capture (order.paid
        # after payment.captured), changes nothing, even after support cleared the flag.
        flag_payment_once(
            payment=payment,
            reason=reason,
            label=label,
            data=data,
            finding=finding,
            updates=updates,
        )
        return Effect.FLAGGED

    if payment.flagged:
        # Support decides about a flagged payment; no later event confirms around them
        # (e.g. the checkout callback, which carries no amount, after a wrong capture).
        return Effect.FLAGGED
    newly_captured = payment.status in (Payment.Status.CREATED, Payment.Status.FAILED)
    if newly_captured:
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.CAPTURED,
            captured_amount_minor=payment.amount_minor,
            payment_id=gateway_payment_id or payment.payment_id,
            updated_at=timezone.now(),
        )
    booking = lock(Booking.objects.filter(pk=payment.booking_id)).get()
    if booking.status in CONFIRMED_OR_LATER:
        return Effect.ALREADY_DONE
    if not newly_captured and booking.status != BookingStatus.PENDING_PAYMENT:
        return Effect.ALREADY_DONE  # this capture was handled (confirmed or refunded) before

    if booking.status in LATE_CAPTURE_STATUSES:
        extra: dict = {}
        if not booking.holds_seats:
            seats = {"quantity": booking.quantity, "seat_type": booking.seat_type}
            if take_seats(slot_id=booking.slot_id, **seats):
                extra = {"holds_seats": True}
            else:
                return _refund_late_capture(
                    booking=booking, payment_id=payment.pk, label=label, why="its seats are taken"
                )
        transition_booking(
            booking_id=booking.pk,
            from_statuses=[booking.status],
            to_status=BookingStatus.CONFIRMED,
            actor_label=label,
            reason="Payment captured.",
            extra_updates=extra,
            data=data,
        )
        return Effect.CONFIRMED
    return _refund_late_capture(
        booking=booking, payment_id=payment.pk, label=label, why=f"it is {booking.status}"
    )


def _refund_late_capture(*, booking: Booking, payment_id: int, label: str, why: str) -> Effect:
    """Money captured for a booking that cannot be confirmed goes back in full: the refunds
    app answers :data:`capture_needs_refund` (in this transaction, payment locked)."""
    payment = Payment.objects.get(pk=payment_id)
    reason = f"Payment captured after the booking could no longer be confirmed ({why})."
    answers = capture_needs_refund.send(
        sender=Payment, payment=payment, booking=booking, reason=reason
    )
    if not answers:  # nobody refunds: a human must
        flag_payment(payment_id=payment.pk, reason=reason + " Refund it.")
        return Effect.FLAGGED
    logger.info("booking %s: late capture via %s refunded in full (%s)", booking.pk, label, why)
    return Effect.REFUND_QUEUED


@transaction.atomic
def record_failure(
    *, payment: Payment, reason: str, label: str, data: dict | None = None
) -> Effect:
    """Apply "the gateway reports the payment failed".

    Only a payment that was not captured becomes FAILED, and only a PENDING_PAYMENT
    booking moves, to PAYMENT_FAILED with its seats released (exactly once). A failure
    that arrives after a capture, or for a booking that left PENDING_PAYMENT, changes
    nothing -> NO_EFFECT. Atomic; payment row locked before the booking.
    """
    payment = lock_payment(payment.pk)
    if payment.status != Payment.Status.CREATED:
        return Effect.NO_EFFECT
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.FAILED, updated_at=timezone.now()
    )
    try:
        transition_booking(
            booking_id=payment.booking_id,
            from_statuses=[BookingStatus.PENDING_PAYMENT],
            to_status=BookingStatus.PAYMENT_FAILED,
            actor_label=label,
            reason=(reason or "Payment failed.")[:255],
            release_seats=True,
            data=data,
        )
    except InvalidTransition:
        return Effect.NO_EFFECT
    return Effect.FAILED


def confirm_checkout(
    *, booking: Booking, order_id: str, payment_id: str, signature: str, actor=None
) -> Effect:
    """Confirm a booking from the Razorpay Checkout success handler.

    The signature (HMAC-SHA256 of ``order_id|payment_id`` with the key secret) is
    checked against the order id *we stored* for the booking, never the client's, before
    anything changes; a mismatch raises :class:`InvalidSignatureProblem` (400
    ``invalid_signature``). Then the capture goes through :func:`record_capture`, the same
    path as the ``payment.captured`` webhook: whichever arrives first confirms, the other
    is a no-op. Razorpay orders fix the amount, so the order's amount is what was paid.
    """
    payment = Payment.objects.filter(booking_id=booking.pk).first()
    if payment is None:
        raise PaymentNotFound()
    if payment.gateway != Gateway.RAZORPAY:
        raise WrongGateway(f"The booking is paid through {payment.gateway}, not Razorpay.")
    try:
        get_gateway(Gateway.RAZORPAY).verify_checkout_signature(
            order_id=payment.order_id, payment_id=payment_id, signature=signature
        )
    except InvalidSignature:
        logger.warning("booking %s: bad checkout signature (order %s)", booking.pk, order_id)
        raise InvalidSignatureProblem(
            "The checkout signature does not match this booking's order."
        ) from None
    return record_capture(
        payment=payment,
        gateway_payment_id=payment_id,
        # The signature binds the payment to our order, whose amount Razorpay fixes.
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        label="razorpay checkout",
        data={"source": "checkout", "actor_id": getattr(actor, "pk", None)},
    )
