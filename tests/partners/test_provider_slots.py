from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import authed_client
from partners import services
from partners.errors import SlotOverlap
from partners.models import Slot
from tests.concurrency import run_concurrently
from tests.factories.partners import PartnerFactory, SlotFactory

URL = "/api/v1/provider/slots"


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def _at(hours: float):
    base = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    return base + timedelta(hours=hours)


def _slot(start_h: float, end_h: float, **extra):
    return {"start": _at(start_h).isoformat(), "end": _at(end_h).isoformat(), **extra}


@pytest.mark.django_db
def test_partner_bulk_creates_slots(partner_client, partner):
    response = partner_client.post(
        URL, {"slots": [_slot(0, 1), _slot(1, 2, capacity=10)]}, format="json"
    )

    assert response.status_code == 201
    created = response.json()["slots"]
    assert [s["capacity"] for s in created] == [1, 10]
    assert all(s["partner_id"] == partner.pk and s["booked"] == 0 for s in created)
    assert created[1]["available"] == 10
    slots = Slot.objects.filter(partner=partner).order_by("start")
    assert [(s.start, s.end, s.capacity) for s in slots] == [
        (_at(0), _at(1), 1),
        (_at(1), _at(2), 10),
    ]


@pytest.mark.django_db
def test_adjacent_slots_do_not_overlap(partner_client, partner):
    SlotFactory(partner=partner, start=_at(0), end=_at(1))

    response = partner_client.post(URL, {"slots": [_slot(1, 2), _slot(-1, 0)]}, format="json")

    assert response.status_code == 201
    assert Slot.objects.filter(partner=partner).count() == 3


@pytest.mark.django_db
def test_slots_overlapping_each_other_are_rejected_and_nothing_is_created(partner_client, partner):
    response = partner_client.post(
        URL, {"slots": [_slot(0, 1), _slot(3, 4), _slot(0.5, 1.5)]}, format="json"
    )

    body = _problem(response, 409, "slot_overlap")
    assert body["errors"]["slots"] == [{"index": 2, "overlaps_index": 0}]
    assert not Slot.objects.exists()


@pytest.mark.django_db
def test_slot_overlapping_an_existing_slot_is_rejected_and_nothing_is_created(
    partner_client, partner
):
    existing = SlotFactory(partner=partner, start=_at(0), end=_at(2), blocked=True)

    response = partner_client.post(URL, {"slots": [_slot(5, 6), _slot(1, 3)]}, format="json")

    body = _problem(response, 409, "slot_overlap")
    assert body["errors"]["slots"] == [{"index": 1, "slot_id": existing.pk}]
    assert list(Slot.objects.all()) == [existing]


@pytest.mark.django_db
def test_another_partners_slot_at_the_same_time_is_no_overlap(partner_client, other_partner):
    SlotFactory(partner=other_partner, start=_at(0), end=_at(1))

    response = partner_client.post(URL, {"slots": [_slot(0, 1)]}, format="json")

    assert response.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slots,field",
    [
        ([{"end": "2030-01-01T10:00:00Z"}], "start"),
        ([{"start": "tomorrow", "end": "2030-01-01T10:00:00Z"}], "start"),
        ([{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:00:00Z"}], "end"),
        ([{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T09:00:00Z"}], "end"),
        (
            [{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z", "capacity": 0}],
            "capacity",
        ),
        (
            [{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z", "capacity": "x"}],
            "capacity",
        ),
    ],
    ids=[
        "missing-start",
        "bad-datetime",
        "zero-length",
        "end-before-start",
        "zero-capacity",
        "capacity-not-int",
    ],
)
def test_invalid_slot_is_a_400_and_nothing_is_created(partner_client, slots, field):
    valid = _slot(0, 1)

    response = partner_client.post(URL, {"slots": [valid, *slots]}, format="json")

    body = _problem(response, 400, "validation_error")
    assert field in body["errors"]["slots"]["1"]
    assert not Slot.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["start", "end"])
def test_slot_time_without_a_utc_offset_is_a_400_and_nothing_is_created(partner_client, field):
    naive = _slot(0, 1)
    naive[field] = _at(0 if field == "start" else 1).replace(tzinfo=None).isoformat()

    response = partner_client.post(URL, {"slots": [naive]}, format="json")

    body = _problem(response, 400, "validation_error")
    assert list(body["errors"]["slots"]["0"]) == [field]
    assert "UTC offset" in body["errors"]["slots"]["0"][field][0]
    assert not Slot.objects.exists()


@pytest.mark.django_db
def test_slot_in_the_past_is_a_400_and_nothing_is_created(partner_client):
    past = timezone.now() - timedelta(hours=3)
    bad = {"start": past.isoformat(), "end": (past + timedelta(hours=1)).isoformat()}

    response = partner_client.post(URL, {"slots": [_slot(0, 1), bad]}, format="json")

    body = _problem(response, 400, "invalid_slot_window")
    assert "start" in body["errors"]["slots"]["1"]
    assert not Slot.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [{}, {"slots": []}, {"slots": "09:00"}, [{"start": "x"}]],
    ids=["missing", "empty", "wrong-type", "not-an-object"],
)
def test_malformed_bulk_payload_is_a_400(partner_client, payload):
    response = partner_client.post(URL, payload, format="json")

    _problem(response, 400, "validation_error")
    assert not Slot.objects.exists()


@pytest.mark.django_db
def test_malformed_json_is_a_400_and_creates_nothing(partner_client):
    response = partner_client.post(URL, '{"slots": [', content_type="application/json")

    _problem(response, 400, "malformed_request")
    assert not Slot.objects.exists()


@pytest.mark.django_db
def test_customer_cannot_create_slots(customer_client, partner):
    response = customer_client.post(URL, {"slots": [_slot(0, 1)]}, format="json")

    _problem(response, 403, "permission_denied")
    assert not Slot.objects.exists()


@pytest.mark.django_db
def test_partner_user_without_a_profile_cannot_create_slots(partner_user):
    response = authed_client(partner_user).post(URL, {"slots": [_slot(0, 1)]}, format="json")

    _problem(response, 403, "permission_denied")


@pytest.mark.django_db
def test_anonymous_cannot_list_provider_slots(api_client):
    _problem(api_client.get(URL), 401, "not_authenticated")


@pytest.mark.django_db
def test_partner_lists_only_own_slots_including_full_and_blocked(
    partner_client, partner, other_partner
):
    mine = [
        SlotFactory(partner=partner, start=_at(0), end=_at(1), blocked=True),
        SlotFactory(partner=partner, start=_at(1), end=_at(2), booked=1),
    ]
    SlotFactory(partner=other_partner, start=_at(0), end=_at(1))

    response = partner_client.get(URL)
    available = partner_client.get(URL, {"available": "true"})

    assert [s["id"] for s in response.json()["results"]] == [s.pk for s in mine]
    assert available.json()["count"] == 0


@pytest.mark.django_db
def test_partner_blocks_and_unblocks_own_slot(partner_client, partner):
    slot = SlotFactory(partner=partner)

    blocked = partner_client.post(f"{URL}/{slot.pk}/block")
    slot.refresh_from_db()
    assert blocked.status_code == 200
    assert blocked.json()["blocked"] is True
    assert blocked.json()["available"] == 0
    assert slot.blocked is True

    unblocked = partner_client.post(f"{URL}/{slot.pk}/unblock")
    slot.refresh_from_db()
    assert unblocked.json()["blocked"] is False
    assert slot.blocked is False


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["block", "unblock"])
def test_partner_cannot_touch_another_partners_slot(partner_client, other_partner, action):
    slot = SlotFactory(partner=other_partner, blocked=(action == "unblock"))

    _problem(partner_client.post(f"{URL}/{slot.pk}/{action}"), 404, "slot_not_found")
    _problem(partner_client.get(f"{URL}/{slot.pk}"), 404, "slot_not_found")
    slot.refresh_from_db()
    assert slot.blocked is (action == "unblock")


@pytest.mark.django_db
def test_block_with_get_is_a_405(partner_client, partner):
    slot = SlotFactory(partner=partner)

    _problem(partner_client.get(f"{URL}/{slot.pk}/block"), 405, "method_not_allowed")


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_bulk_creates_leave_exactly_one_winner():
    partner = PartnerFactory()
    specs = [
        [services.SlotSpec(_at(0), _at(2))],
        [services.SlotSpec(_at(1), _at(3))],
    ]

    def create(index: int) -> str:
        try:
            services.create_slots(partner_id=partner.pk, specs=specs[index])
        except SlotOverlap:
            return "overlap"
        return "created"

    outcomes = run_concurrently(2, create)

    assert sorted(outcomes) == ["created", "overlap"]
    assert Slot.objects.filter(partner=partner).count() == 1


@pytest.mark.django_db
def test_partner_reads_own_slot_and_filters_own_list_by_window(partner_client, partner):
    early = SlotFactory(partner=partner, start=_at(0), end=_at(1))
    late = SlotFactory(partner=partner, start=_at(5), end=_at(6))

    detail = partner_client.get(f"{URL}/{early.pk}")
    window = partner_client.get(URL, {"from": _at(4).isoformat(), "to": _at(7).isoformat()})
    bad = partner_client.get(URL, {"from": _at(4).isoformat(), "to": _at(3).isoformat()})

    assert detail.json()["id"] == early.pk
    assert [s["id"] for s in window.json()["results"]] == [late.pk]
    _problem(bad, 400, "validation_error")
