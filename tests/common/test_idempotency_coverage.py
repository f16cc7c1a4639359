"""Every authenticated unsafe POST of the API honours ``Idempotency-Key``."""

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny


def _api_views(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _api_views(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _post_handlers():
    for route, callback in _api_views(get_resolver().url_patterns):
        view_class = getattr(callback, "cls", None)
        if not route.startswith("api/v1/") or view_class is None:
            continue
        permissions = view_class.permission_classes
        if not permissions or any(p is AllowAny for p in permissions):
            continue  # anonymous endpoints (register, token): keys are per user
        actions = getattr(callback, "actions", None) or {}
        name = actions.get("post", "post" if hasattr(view_class, "post") else None)
        if name:
            yield route, view_class, getattr(view_class, name)


def test_the_api_has_authenticated_post_endpoints():
    routes = [route for route, _, _ in _post_handlers()]
    assert "api/v1/bookings" in routes
    assert len(routes) >= 10


def test_every_authenticated_post_honours_the_idempotency_key():
    missing = [
        f"{route} ({view_class.__name__})"
        for route, view_class, handler in _post_handlers()
        if not getattr(handler, "honours_idempotency_key", False)
    ]
    assert missing == []


def test_a_retried_slot_bulk_create_is_replayed_not_rejected_as_overlap(db):
    # Without the key the second request would be a 409 slot_overlap; with it, the
    # client's retry gets the original 201 and nothing is created twice.
    from datetime import timedelta

    from django.utils import timezone

    from conftest import authed_client
    from partners.models import Slot
    from tests.factories.partners import PartnerFactory

    partner = PartnerFactory()
    client = authed_client(partner.user)
    start = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    body = {
        "slots": [{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}]
    }

    first = client.post("/api/v1/provider/slots", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = client.post("/api/v1/provider/slots", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Slot.objects.filter(partner=partner).count() == 1
