"""Partner-catalog errors, each with its stable problem ``code``."""

from common.problems import Conflict, InvalidRequest, NotFound


class SlotOverlap(Conflict):
    code = "slot_overlap"
    title = "Slots of one partner must not overlap"


class SlotNotFound(NotFound):
    code = "not_found"
    title = "Not found"


class StaffNotFound(NotFound):
    code = "not_found"
    title = "Not found"


class InvalidSlotWindow(InvalidRequest):
    code = "invalid_slot_window"
    title = "Invalid slot time window"
