"""Time-range exclusion constraints: "no two rows with the same X overlap in time".

:class:`TimeRangeExclusion` is PostgreSQL's ``EXCLUDE USING gist (X WITH =,
tstzrange(start, end) WITH &&)`` (``btree_gist`` provides ``=`` on plain columns), so the
database refuses an overlap even when two transactions write at the same instant.
Ranges are half-open ``[start, end)``: one ending at 10:00 does not overlap one starting
at 10:00.

The embedded default runs on SQLite, which has no exclusion constraints: there the
constraint creates no DDL and model validation (admin forms) falls back to the same rule
as an ordinary query. SQLite serialises writers, so a service that checks after writing
(see ``partners.services.create_slots``) is race-free there too.
"""

from __future__ import annotations

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections
from django.db.models import Func, Q

from common.problems import violated_constraint

# SQLSTATE of an exclusion constraint violation.
EXCLUSION_VIOLATION = "23P01"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class TimeRangeExclusion(ExclusionConstraint):
    """No two rows (matching ``condition``) with equal ``equal`` have overlapping
    ``[start, end)`` ranges."""

    def __init__(
        self,
        *,
        name: str,
        start: str,
        end: str,
        equal: str,
        condition: Q | None = None,
        violation_error_code: str | None = None,
        violation_error_message: str | None = None,
    ) -> None:
        self.start, self.end, self.equal = start, end, equal
        super().__init__(
            name=name,
            expressions=[
                (equal, RangeOperators.EQUAL),
                (TsTzRange(start, end, RangeBoundary()), RangeOperators.OVERLAPS),
            ],
            condition=condition,
            violation_error_code=violation_error_code,
            violation_error_message=violation_error_message,
        )

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs.pop("expressions")
        kwargs.update(start=self.start, end=self.end, equal=self.equal)
        return path, args, kwargs

    # --- PostgreSQL only: no DDL elsewhere ---

    def constraint_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        if connections[using].vendor == "postgresql":
            return super().validate(model, instance, exclude=exclude, using=using)
        if exclude and {self.start, self.end, self.equal} & set(exclude):
            return
        values = {
            field: getattr(instance, model._meta.get_field(field).attname)
            for field in (self.start, self.end, self.equal)
        }
        if None in values.values():
            return
        if self.condition is not None and not Q(self.condition).check(
            instance._get_field_expression_map(meta=model._meta), using=using
        ):
            return
        others = model._default_manager.using(using).filter(
            **{
                model._meta.get_field(self.equal).attname: values[self.equal],
                f"{self.start}__lt": values[self.end],
                f"{self.end}__gt": values[self.start],
            }
        )
        if self.condition is not None:
            others = others.filter(self.condition)
        if not instance._state.adding and instance.pk is not None:
            others = others.exclude(pk=instance.pk)
        if others.exists():
            raise ValidationError(
                self.get_violation_error_message(), code=self.violation_error_code
            )


def violated_exclusion(exc: IntegrityError) -> str | None:
    """The name of the exclusion constraint ``exc`` reports, or None for other errors."""
    if getattr(exc.__cause__, "sqlstate", None) != EXCLUSION_VIOLATION:
        return None
    return violated_constraint(exc)
