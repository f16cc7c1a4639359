"""Read-only representations rendered by one kept serializer per class.

A ``ModelSerializer`` builds its fields when it is instantiated: it introspects the
model and constructs and binds a field object per column (about fifty for a new
booking's response). That is more CPU than the rest of the booking request's Python, and
it is the same every time. :func:`render` builds the fields of a serializer class once and
reuses them: the fields of a read-only serializer keep no state between
``to_representation`` calls (time zones, formats and settings are read when a value is
rendered), so one instance serves every request and thread.

Only for output without context (no ``request`` in the serializer's context) and for
classes whose fields do not change after the apps are ready.

Input is validated by a new serializer per request (it keeps the data and the errors),
but building its fields deep-copies every declared field with its validators, each time.
:class:`KeptInputFields` builds them once per class and shares them: a plain field's
validation keeps no state (it reads its options, the value, and the root's ``partial``).
"""

from __future__ import annotations

import functools
from typing import Any

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict


@functools.cache
def _kept(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    serializer = serializer_class()
    serializer.fields  # noqa: B018 - build and bind the fields now, before sharing
    return serializer


def render(serializer_class: type[serializers.Serializer], instance: Any) -> dict:
    """``serializer_class(instance).data``, without building the serializer's fields."""
    return _kept(serializer_class).to_representation(instance)


def render_many(serializer_class: type[serializers.Serializer], instances) -> list[dict]:
    """``serializer_class(instances, many=True).data``, likewise."""
    kept = _kept(serializer_class)
    return [kept.to_representation(instance) for instance in instances]


class KeptInputFields:
    """Mixin for an input ``Serializer`` of plain fields (no nested serializers, no field or
    validator that reads ``context``, never ``partial``): its fields are built and bound
    once per class, on a template instance, and every instance validates with them.
    Validation and errors are those of the plain serializer."""

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        kept = cls.__dict__.get("_kept_fields")
        if kept is None:
            # As Serializer.fields builds them (a benign race: two threads may each build
            # one, the last assignment wins, and both are equal).
            template = cls()
            kept = BindingDict(template)
            for name, field in template.get_fields().items():
                kept[name] = field
            cls._kept_fields = kept
        return kept
