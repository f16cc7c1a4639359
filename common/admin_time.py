"""Times in the operators' console: in the zone they belong to, with the zone named.

Everything the admin renders is in ``ADMIN_TIME_ZONE`` (the operators' zone), activated
for admin requests only (the API answers ISO 8601 with the offset and must not follow a
display setting). What happens in a city (a slot, a booking's times) is shown in the
city's own zone, as its customers and partners see it.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def in_zone(moment: datetime | None, time_zone: str) -> str:
    """``moment`` as a wall-clock time of ``time_zone`` with its name:
    ``"2 Dec 2026, 09:00 IST"``; ``"-"`` for no time."""
    if moment is None:
        return "-"
    return date_format(timezone.localtime(moment, _zone(time_zone)), "DATETIME_FORMAT")


class AdminTimeZoneMiddleware:
    """Activates ``ADMIN_TIME_ZONE`` while an admin page is rendered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            admin_prefix = reverse("admin:index")
        except NoReverseMatch:  # a URLconf without the admin (some tests use one)
            return self.get_response(request)
        if not request.path.startswith(admin_prefix):
            return self.get_response(request)
        with timezone.override(_zone(settings.ADMIN_TIME_ZONE)):
            return self.get_response(request)
