"""Booking domain errors, each with its stable problem ``code``."""

from common.problems import Conflict, InvalidRequest, InvalidTransition, NotFound

__all__ = [
    "AlreadyCancelled",
    "InvalidTransition",
    "NoPartnerAvailable",
    "PartnerUnavailable",
    "SlotNotFound",
    "SlotBlocked",
    "SlotInPast",
    "SlotUnavailable",
    "TooManyPendingBookings",
    "VariantDoesNotFit",
    "VariantNotOffered",
]


class TooManyPendingBookings(Conflict):
    code = "too_many_pending_bookings"
    title = "Too many unpaid bookings"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"
    title = "The slot has no room left"


class SlotBlocked(Conflict):
    code = "slot_blocked"
    title = "The slot is blocked by the partner"


class SlotNotFound(NotFound):
    code = "slot_not_found"
    title = "No such slot"


class PartnerUnavailable(Conflict):
    code = "partner_unavailable"
    title = "The partner is not taking bookings"


class SlotInPast(InvalidRequest):
    code = "slot_in_past"
    title = "The slot has already started"


class VariantNotOffered(InvalidRequest):
    code = "variant_not_offered"
    title = "The partner does not offer this service variant"


class VariantDoesNotFit(InvalidRequest):
    code = "variant_does_not_fit"
    title = "The service variant takes longer than the slot"


class NoPartnerAvailable(NotFound):
    code = "no_partner_available"
    title = "No partner is available"


class AlreadyCancelled(Conflict):
    code = "already_cancelled"
    title = "The booking is already cancelled"
