"""POST bookings/{id}/reschedule: the booking moves, the money does not."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingStatus, WaitlistEntry, WaitlistStatus
from conftest import authed_client
from notifications.models import OutboxMessage
from otp.models import BookingOtp
from otp.services import issue_code
from partners.models import Slot
from payments.models import Payment
from refunds.models import Refund
from tests.factories.accounts import CustomerFactory
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, SlotFactory, StaffFactory
from tests.factories.refunds import CapturedPaymentFactory

HOOK_URL = "https://partner.example/hook"


def _url(booking):
    return f"/api/v1/bookings/{booking.pk}/reschedule"


def _problem(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    return body


@pytest.fixture
def hooked(partner):
    partner.webhook_url = HOOK_URL
    partner.webhook_secret = "whsec_test"
    partner.save(update_fields=["webhook_url", "webhook_secret"])
    return partner


@pytest.fixture
def paid(customer, make_slot, variant, hooked):
    """A CONFIRMED booking 48 h ahead with a captured payment and a staff member."""
    booking = BookingFactory(
        customer=customer,
        slot=make_slot(hours=48),
        variant=variant,
        status=BookingStatus.CONFIRMED,
        assigned_staff=StaffFactory(partner=hooked),
    )
    CapturedPaymentFactory(booking=booking)
    return booking


@pytest.fixture
def target(make_slot):
    """A free slot of the same partner three days ahead."""
    return make_slot(hours=72)


def _snapshot(booking):
    booking.refresh_from_db()
    slots = dict(Slot.objects.values_list("pk", "booked"))
    return (
        booking.slot_id,
        booking.status,
        booking.assigned_staff_id,
        booking.reschedule_count,
        slots,
        BookingEvent.objects.filter(booking=booking).count(),
        OutboxMessage.objects.filter(booking_id=booking.pk).count(),
    )


@pytest.mark.django_db
def test_a_confirmed_booking_moves_to_another_slot_without_moving_money(
    customer_client, paid, target
):
    old_slot = paid.slot
    old_code = BookingOtp.objects.get(pk=_arrival_code_id(paid))
    payment = Payment.objects.get(booking=paid)

    response = customer_client.post(_url(paid), {"slot_id": target.pk}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == paid.pk
    assert body["status"] == "CONFIRMED"
    assert body["amount"] == paid.amount_minor
    assert body["payment"]["order_id"] == payment.order_id
    assert body["slot_id"] == target.pk
    assert body["slot_start"] == target.start.isoformat().replace("+00:00", "Z")
    assert body["assigned_staff_id"] is None
    assert body["reschedule_count"] == 1
    entry = body["timeline"][-1]
    assert (entry["kind"], entry["from"], entry["to"], entry["actor"]) == (
        "rescheduled",
        "CONFIRMED",
        "CONFIRMED",
        "customer",
    )
    event = BookingEvent.objects.filter(booking=paid, kind="rescheduled").get()
    assert (event.data["from_slot_id"], event.data["to_slot_id"]) == (old_slot.pk, target.pk)
    # Seats moved; no money moved.
    old_slot.refresh_from_db()
    target.refresh_from_db()
    assert (old_slot.booked, target.booked) == (0, 1)
    assert Payment.objects.filter(booking=paid).count() == 1
    assert not Refund.objects.exists()
    booking = Booking.objects.get(pk=paid.pk)
    assert (booking.slot_start, booking.slot_end) == (target.start, target.end)
    # The customer's email, the partner's webhook, a new arrival code (the old one is dead).
    outbox = OutboxMessage.objects.filter(booking_id=paid.pk)
    assert outbox.filter(kind="booking.rescheduled", recipient=paid.customer.email).exists()
    hook = json.loads(outbox.get(kind="booking.rescheduled", channel="webhook").body)
    assert hook["data"]["slot_id"] == target.pk
    assert hook["data"]["previous_slot_id"] == old_slot.pk
    assert outbox.filter(kind="otp.arrival").count() == 1
    old_code.refresh_from_db()
    assert old_code.superseded_at is not None


def _arrival_code_id(booking) -> int:
    issue_code(booking_id=booking.pk, purpose="arrival")
    return BookingOtp.objects.filter(booking=booking).latest("id").pk


@pytest.mark.django_db
def test_an_unpaid_booking_keeps_its_hold_and_its_partner_hears_nothing(
    customer, customer_client, make_slot, variant, hooked, target
):
    booking = BookingFactory(customer=customer, slot=make_slot(), variant=variant)

    response = customer_client.post(_url(booking), {"slot_id": target.pk}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "PENDING_PAYMENT"
    assert response.json()["hold_expires_at"] is not None
    booking.refresh_from_db()
    assert booking.slot_id == target.pk
    kinds = set(OutboxMessage.objects.filter(booking_id=booking.pk).values_list("kind", flat=True))
    assert kinds == {"booking.rescheduled"}  # no webhook, no arrival code before payment


@pytest.mark.django_db
def test_the_slot_the_booking_already_has_changes_nothing(customer_client, paid):
    before = _snapshot(paid)

    response = customer_client.post(_url(paid), {"slot_id": paid.slot_id}, format="json")

    assert response.status_code == 200
    assert _snapshot(paid) == before


def _other_partners_slot(partner, variant, **_):
    other = PartnerFactory(city=partner.city, services=[variant.service])
    return SlotFactory(partner=other, start=timezone.now() + timedelta(days=3))


def _past_slot(partner, **_):
    start = timezone.now() - timedelta(hours=1)
    return SlotFactory(partner=partner, start=start)


def _short_slot(partner, **_):  # the variant takes 60 minutes
    start = timezone.now() + timedelta(days=3)
    return SlotFactory(partner=partner, start=start, end=start + timedelta(minutes=30))


def _full_slot(partner, variant, **_):
    slot = SlotFactory(partner=partner, start=timezone.now() + timedelta(days=3))
    BookingFactory(slot=slot, variant=variant, status=BookingStatus.CONFIRMED)
    return slot


def _blocked_slot(partner, **_):
    return SlotFactory(partner=partner, start=timezone.now() + timedelta(days=3), blocked=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_target", "status", "code"),
    [
        (_other_partners_slot, 400, "other_partner"),
        (_past_slot, 400, "slot_in_past"),
        (_short_slot, 400, "variant_does_not_fit"),
        (_full_slot, 409, "slot_unavailable"),
        (_blocked_slot, 409, "slot_blocked"),
    ],
)
def test_a_slot_the_booking_cannot_move_to_is_refused_and_nothing_changes(
    customer_client, paid, partner, variant, make_target, status, code
):
    slot = make_target(partner=partner, variant=variant)
    before = _snapshot(paid)

    _problem(customer_client.post(_url(paid), {"slot_id": slot.pk}, format="json"), status, code)

    assert _snapshot(paid) == before


@pytest.mark.django_db
def test_an_unknown_slot_is_404_slot_not_found(customer_client, paid):
    before = _snapshot(paid)
    _problem(
        customer_client.post(_url(paid), {"slot_id": 999999}, format="json"), 404, "slot_not_found"
    )
    assert _snapshot(paid) == before


@pytest.mark.django_db
def test_another_customers_booking_is_404(paid, target):
    stranger = authed_client(CustomerFactory())
    _problem(
        stranger.post(_url(paid), {"slot_id": target.pk}, format="json"), 404, "booking_not_found"
    )


@pytest.mark.django_db
def test_a_cancelled_booking_cannot_be_rescheduled(customer, customer_client, make_slot, target):
    booking = BookingFactory(customer=customer, slot=make_slot(), status=BookingStatus.CANCELLED)
    before = _snapshot(booking)
    _problem(
        customer_client.post(_url(booking), {"slot_id": target.pk}, format="json"),
        409,
        "invalid_transition",
    )
    assert _snapshot(booking) == before


@pytest.mark.django_db
def test_rescheduling_closes_reschedule_cutoff_hours_before_the_start(
    customer, paid, target, settings
):
    settings.RESCHEDULE_CUTOFF_HOURS = 2
    start = paid.slot.start
    body = {"slot_id": target.pk}
    with time_machine.travel(start - timedelta(hours=2, seconds=-1), tick=False):
        before = _snapshot(paid)
        late = authed_client(customer).post(_url(paid), body, format="json")
        _problem(late, 409, "reschedule_window_closed")
        assert _snapshot(paid) == before
    with time_machine.travel(start - timedelta(hours=2), tick=False):
        on_time = authed_client(customer).post(_url(paid), body, format="json")
    assert on_time.status_code == 200, on_time.content


@pytest.mark.django_db
def test_a_booking_is_rescheduled_at_most_reschedule_max_times(
    customer_client, paid, make_slot, settings
):
    settings.RESCHEDULE_MAX_TIMES = 2
    second, third, fourth = make_slot(hours=60), make_slot(hours=80), make_slot(hours=90)
    for slot in (second, third):
        response = customer_client.post(_url(paid), {"slot_id": slot.pk}, format="json")
        assert response.status_code == 200, response.content
    before = _snapshot(paid)

    _problem(
        customer_client.post(_url(paid), {"slot_id": fourth.pk}, format="json"),
        409,
        "reschedule_limit_reached",
    )
    assert _snapshot(paid) == before
    assert paid.reschedule_count == 2


@pytest.mark.django_db
def test_a_retried_reschedule_with_its_key_is_replayed(customer_client, paid, target):
    first = customer_client.post(
        _url(paid), {"slot_id": target.pk}, format="json", HTTP_IDEMPOTENCY_KEY="move-1"
    )
    again = customer_client.post(
        _url(paid), {"slot_id": target.pk}, format="json", HTTP_IDEMPOTENCY_KEY="move-1"
    )

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    paid.refresh_from_db()
    assert paid.reschedule_count == 1


@pytest.mark.django_db
def test_the_old_slots_waitlist_is_offered_the_freed_seat(
    customer, customer_client, make_slot, variant, target, django_capture_on_commit_callbacks
):
    full = make_slot(hours=48)
    booking = BookingFactory(
        customer=customer, slot=full, variant=variant, status=BookingStatus.CONFIRMED
    )
    CapturedPaymentFactory(booking=booking)
    waiter = WaitlistEntry.objects.create(slot=full, customer=CustomerFactory(), variant=variant)

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(_url(booking), {"slot_id": target.pk}, format="json")

    assert response.status_code == 200, response.content
    waiter.refresh_from_db()
    assert waiter.status == WaitlistStatus.OFFERED
    full.refresh_from_db()
    assert full.booked == 1  # the offer holds the freed seat
    assert any(m.subject.startswith(f"Booking #{booking.pk} moved") for m in mail.outbox)


@pytest.mark.django_db
def test_the_refund_of_a_later_cancellation_counts_from_the_new_start(
    customer_client, paid, make_slot, hooked
):
    # Cancelling at the old start (48 h ahead) would refund 100 %; the new slot starts in
    # 13 h, and with a staff member assigned the tiers give 50 %.
    soon = make_slot(hours=13)
    assert customer_client.post(_url(paid), {"slot_id": soon.pk}, format="json").status_code == 200
    staff = StaffFactory(partner=hooked)
    partner_client = authed_client(hooked.user)
    assigned = partner_client.patch(
        f"/api/v1/provider/bookings/{paid.pk}/assign", {"staff_id": staff.pk}, format="json"
    )
    assert assigned.status_code == 200, assigned.content

    response = customer_client.post(f"/api/v1/bookings/{paid.pk}/cancel", {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["refund"]["percent"] == 50
