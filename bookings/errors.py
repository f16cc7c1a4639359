"""Booking domain errors, each with its stable problem ``code``."""

from common.problems import CONSTRAINT_ERRORS, Conflict, InvalidRequest, NotFound
from partners.errors import SlotNotFound, StaffNotFound

__all__ = [
    "AlreadyCancelled",
    "AlreadyWaitlisted",
    "BookingNotFound",
    "InvalidTransition",
    "NoPartnerAvailable",
    "NotWaiting",
    "OtherPartner",
    "PartnerUnavailable",
    "RescheduleLimitReached",
    "RescheduleWindowClosed",
    "SlotNotFound",
    "SlotBlocked",
    "SlotHasRoom",
    "SlotInPast",
    "SlotUnavailable",
    "StaffBusy",
    "StaffNotAssigned",
    "StaffNotFound",
    "TooManyPendingBookings",
    "VariantDoesNotFit",
    "VariantNotOffered",
    "WaitlistEntryNotFound",
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


class SeatTypeNotFound(InvalidRequest):
    code = "seat_type_not_found"
    title = "The slot has no such seat type"


class SeatTypeRequired(InvalidRequest):
    code = "seat_type_required"
    title = "Choose a seat type: the slot has several"


class NoPartnerAvailable(NotFound):
    code = "no_partner_available"
    title = "No partner is available"


class AlreadyCancelled(Conflict):
    code = "already_cancelled"
    title = "The booking is already cancelled"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "The booking is not in a state that allows this"


class BookingNotFound(NotFound):
    """Also for another customer's or partner's booking: its existence is not revealed."""

    code = "booking_not_found"
    title = "No such booking"


class StaffNotAssigned(Conflict):
    code = "staff_not_assigned"
    title = "No staff member is assigned to the booking"


class StaffBusy(Conflict):
    code = "staff_busy"
    title = "The staff member has another booking at that time"


# --- rescheduling ---


class OtherPartner(InvalidRequest):
    code = "other_partner"
    title = "The slot belongs to another partner"


class RescheduleWindowClosed(Conflict):
    code = "reschedule_window_closed"
    title = "It is too late to reschedule this booking"


class RescheduleLimitReached(Conflict):
    code = "reschedule_limit_reached"
    title = "The booking has been rescheduled as often as allowed"


# --- waitlist ---


class SlotHasRoom(Conflict):
    code = "slot_has_room"
    title = "The slot has room: book it instead"


class AlreadyWaitlisted(Conflict):
    code = "already_waitlisted"
    title = "You are already on this slot's waitlist"


class WaitlistEntryNotFound(NotFound):
    code = "waitlist_entry_not_found"
    title = "No such waitlist entry"


class NotWaiting(Conflict):
    code = "waitlist_entry_not_waiting"
    title = "The waitlist entry is no longer waiting"


CONSTRAINT_ERRORS["booking_staff_no_overlap"] = StaffBusy
