"""Refund policy arithmetic: pure functions, no database access.

The policy itself is data (:class:`refunds.models.RefundPolicy`); these functions
only read it, so the same rules serve the default tiers (docs/architecture.md) and any
other marketplace's tiers (e.g. 75 % at 24 h or more, 0 % below).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from django.core.exceptions import ValidationError

CancelledBy = Literal["customer", "provider"]


def refund_percent(
    *,
    policy,
    by: CancelledBy,
    staff_assigned: bool,
    now: datetime,
    slot_start: datetime,
    reassigned: bool = False,
) -> int:
    """The refund percentage (0..100) for a cancellation at ``now``.

    - the provider cancels: ``policy.provider_cancel_percent``;
    - the customer cancels a booking that was reassigned to another partner (its own
      partner cancelled) before it starts: 100, whatever the tiers;
    - the customer cancels before any staff member is assigned: ``policy.unassigned_percent``;
    - otherwise the first tier (highest threshold first) with
      ``slot_start - now >= min_hours_before`` hours, exact to the microsecond: with the
      default tiers 24 h exactly gives 100 %, 24 h - 1 s gives 50 %, 12 h exactly 50 %,
      12 h - 1 s 0 %;
    - once the slot has started no tier applies: 0 %.
    """
    if by == "provider":
        return int(policy.provider_cancel_percent)
    if by != "customer":
        raise ValueError(f"unknown canceller {by!r}")
    if reassigned and now < slot_start:
        return 100
    if not staff_assigned:
        return int(policy.unassigned_percent)
    notice = slot_start - now
    if notice < timedelta(0):
        return 0
    for tier in sorted(policy.tiers, key=lambda t: t["min_hours_before"], reverse=True):
        if notice >= timedelta(hours=tier["min_hours_before"]):
            return int(tier["percent"])
    return 0


def refund_amount(amount_minor: int, percent: int) -> int:
    """``percent`` of ``amount_minor`` in integer minor units, halves rounded up (in the
    customer's favour): 101 at 50 % is 51, 99 at 50 % is 50, 1 at 50 % is 1.

    ``round(a * p / 100)`` without floats: ``floor((2 * a * p + 100) / 200)``.
    """
    if amount_minor < 0 or not 0 <= percent <= 100:
        raise ValueError("amount must be >= 0 and percent within 0..100")
    return (2 * amount_minor * percent + 100) // 200


def validate_tiers(tiers) -> None:
    """Tiers are a non-empty list of ``{"min_hours_before": number >= 0, "percent": int
    0..100}`` with strictly descending thresholds, the last one 0 (every notice that is
    not negative falls in a tier). Raises :class:`ValidationError`."""
    if not isinstance(tiers, list) or not tiers:
        raise ValidationError("Tiers must be a non-empty list.")
    previous = None
    for index, tier in enumerate(tiers, start=1):
        if not isinstance(tier, dict) or set(tier) != {"min_hours_before", "percent"}:
            raise ValidationError(
                f"Tier {index}: expected exactly the keys min_hours_before and percent."
            )
        hours, percent = tier["min_hours_before"], tier["percent"]
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
            raise ValidationError(f"Tier {index}: min_hours_before must be a number >= 0.")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValidationError(f"Tier {index}: percent must be a whole number from 0 to 100.")
        if previous is not None and hours >= previous:
            raise ValidationError(
                f"Tier {index}: thresholds must be strictly descending "
                f"({hours} h after {previous} h)."
            )
        previous = hours
    if previous != 0:
        raise ValidationError("The last tier must start at 0 hours before the slot.")
