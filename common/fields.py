"""Serializer fields shared by the apps."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's ``SlugRelatedField`` that treats a NUL character as an unknown slug.

    PostgreSQL text cannot hold NUL, so the lookup itself would fail with a database
    error (rendered as a 503); a slug containing one can never match, so it is a 400
    ``does_not_exist`` like any other unknown slug.
    """

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)


# Dates and date-times the API accepts: far enough from year 1 and year 9999 that shifting
# them by a time zone or a few days can never overflow (a 500), wide enough for any booking.
EARLIEST_DATE = datetime.date(2000, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)
RANGE_MESSAGE = f"Must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."


class BoundedDateField(serializers.DateField):
    """A calendar date between :data:`EARLIEST_DATE` and :data:`LATEST_DATE`."""

    default_error_messages = {"out_of_range": RANGE_MESSAGE}

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if not EARLIEST_DATE <= parsed <= LATEST_DATE:
            self.fail("out_of_range")
        return parsed


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its UTC offset (``Z`` or ``+05:30``).

    DRF reads a date-time without an offset in the server's time zone (UTC), so a
    partner in Kolkata sending ``10:00`` would silently get a 15:30 slot; such input is
    rejected with a field error (code ``naive_datetime``) instead.
    """

    default_error_messages = {
        "naive_datetime": "Include a UTC offset, e.g. 2027-01-10T10:00:00+05:30 or …Z.",
        "out_of_range": RANGE_MESSAGE,
    }

    def to_internal_value(self, value):
        parsed = value if isinstance(value, datetime.datetime) else None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None  # not a valid date-time: DRF reports it as "invalid"
        if parsed is not None and timezone.is_naive(parsed):
            self.fail("naive_datetime")
        if parsed is not None and not EARLIEST_DATE <= parsed.date() <= LATEST_DATE:
            self.fail("out_of_range")  # before DRF converts it to UTC, which may overflow
        result = super().to_internal_value(value)
        if not EARLIEST_DATE <= result.date() <= LATEST_DATE:
            self.fail("out_of_range")
        return result


def with_window_fields(fields: dict, *, help_from: str, help_to: str) -> dict:
    """Add optional offset-aware ``from``/``to`` date-times to a serializer's fields.

    For ``get_fields``: ``from`` is a Python keyword, so it cannot be declared as a
    class attribute.
    """
    fields["from"] = AwareDateTimeField(required=False, help_text=help_from)
    fields["to"] = AwareDateTimeField(required=False, help_text=help_to)
    return fields
