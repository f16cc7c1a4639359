"""Partner-catalog errors, each with its stable problem ``code``."""

from common.problems import CONSTRAINT_ERRORS, Conflict, InvalidRequest, NotFound


class SlotOverlap(Conflict):
    code = "slot_overlap"
    title = "Slots of one partner must not overlap"


class SlotNotFound(NotFound):
    code = "slot_not_found"
    title = "No such slot"


class StaffNotFound(NotFound):
    code = "staff_not_found"
    title = "Staff member not found"


class InvalidSlotWindow(InvalidRequest):
    code = "invalid_slot_window"
    title = "Invalid slot time window"


class PartnerNotFound(NotFound):
    """Also for a partner that is not active and verified: it is not public."""

    code = "partner_not_found"
    title = "No such partner"


CONSTRAINT_ERRORS["slot_no_overlap"] = SlotOverlap


class OfferingNotFound(NotFound):
    code = "offering_not_found"
    title = "No such offering"


class OfferingExists(Conflict):
    code = "offering_exists"
    title = "The partner already offers this variant"


class InvalidPrice(InvalidRequest):
    code = "invalid_price"
    title = "Invalid price"


CONSTRAINT_ERRORS["offering_unique_variant"] = OfferingExists
