"""Serializer fields shared by the apps."""

from __future__ import annotations

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
