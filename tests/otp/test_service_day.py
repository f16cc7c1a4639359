"""Service day over HTTP: assign staff, arrival code, mark complete, completion code."""

import pytest
from django.core import mail

from bookings.models import Booking, BookingEvent, BookingStatus
from conftest import authed_client
from notifications.models import OutboxMessage
from otp.models import BookingOtp
from tests.concurrency import run_concurrently
from tests.factories.accounts import CustomerFactory
from tests.factories.otp import confirmed_booking, last_code, staff_of
from tests.factories.partners import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Call ``run_on_commit(fn)``: run fn, then its on_commit callbacks (message delivery)."""

    def run(fn):
        with django_capture_on_commit_callbacks(execute=True):
            return fn()

    return run


@pytest.fixture
def day(run_on_commit):
    partner = PartnerFactory()
    booking = run_on_commit(lambda: confirmed_booking(partner=partner))
    staff = staff_of(partner)
    return {
        "partner": partner,
        "booking": booking,
        "staff": staff,
        "customer": booking.customer,
        "partner_client": authed_client(partner.user),
        "customer_client": authed_client(booking.customer),
    }


def url(booking_id, action, provider=True):
    prefix = "/api/v1/provider/bookings" if provider else "/api/v1/bookings"
    return f"{prefix}/{booking_id}/{action}"


def test_happy_path_from_confirmed_to_completed_with_a_full_timeline(day, run_on_commit):
    booking, staff, customer = day["booking"], day["staff"], day["customer"]
    partner_client, customer_client = day["partner_client"], day["customer_client"]
    subjects = [m.subject for m in mail.outbox if m.to == [customer.email]]
    assert f"Booking #{booking.pk} confirmed" in subjects

    response = partner_client.patch(
        url(booking.pk, "assign"), {"staff_id": staff.pk}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["assigned_staff_id"] == staff.pk

    arrival_code = last_code(mail.outbox, to=customer.email, booking_id=booking.pk)
    response = run_on_commit(
        lambda: partner_client.post(
            url(booking.pk, "confirm-arrival"), {"otp": arrival_code}, format="json"
        )
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == BookingStatus.IN_PROGRESS

    response = run_on_commit(lambda: partner_client.post(url(booking.pk, "mark-complete")))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == BookingStatus.AWAITING_COMPLETION

    completion_code = last_code(mail.outbox, to=staff.email, booking_id=booking.pk)
    response = customer_client.post(
        url(booking.pk, "verify-completion", provider=False),
        {"otp": completion_code},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == BookingStatus.COMPLETED
    assert [(e["kind"], e["to"]) for e in body["timeline"]] == [
        ("transition", "CONFIRMED"),
        ("otp_issued", ""),
        ("staff_assigned", ""),
        ("transition", "IN_PROGRESS"),
        ("transition", "AWAITING_COMPLETION"),
        ("otp_issued", ""),
        ("transition", "COMPLETED"),
    ]
    issued = BookingEvent.objects.filter(booking=booking, kind="otp_issued").order_by("id")
    assert [e.data["purpose"] for e in issued] == ["arrival", "completion"]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.COMPLETED
    assert BookingOtp.objects.filter(booking=booking, used_at__isnull=False).count() == 2
    # The customer got the arrival code; the staff member (not the customer) the completion code.
    customer_bodies = " ".join(m.body for m in mail.outbox if m.to == [customer.email])
    assert arrival_code in customer_bodies and completion_code not in customer_bodies


def test_partner_can_reassign_until_arrival_and_each_change_is_on_the_timeline(day):
    booking, partner = day["booking"], day["partner"]
    first, second = day["staff"], staff_of(partner)
    client = day["partner_client"]

    response = client.patch(url(booking.pk, "assign"), {"staff_id": first.pk}, format="json")
    assert response.status_code == 200
    response = client.patch(url(booking.pk, "assign"), {"staff_id": second.pk}, format="json")
    assert response.status_code == 200
    events = BookingEvent.objects.filter(booking=booking, kind="staff_assigned")
    assert [e.data for e in events] == [
        {"staff_id": first.pk, "previous_staff_id": None},
        {"staff_id": second.pk, "previous_staff_id": first.pk},
    ]

    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.IN_PROGRESS)
    response = client.patch(url(booking.pk, "assign"), {"staff_id": first.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Booking.objects.get(pk=booking.pk).assigned_staff_id == second.pk


def test_assigning_another_partners_or_inactive_staff_is_404(day):
    booking, client = day["booking"], day["partner_client"]
    foreign = staff_of(PartnerFactory())
    inactive = staff_of(day["partner"], active=False)
    for staff in (foreign, inactive):
        response = client.patch(url(booking.pk, "assign"), {"staff_id": staff.pk}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "staff_not_found"
    assert Booking.objects.get(pk=booking.pk).assigned_staff_id is None
    assert not BookingEvent.objects.filter(booking=booking, kind="staff_assigned").exists()


def test_assigning_staff_to_an_unconfirmed_booking_is_409(day):
    booking = day["booking"]
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.PENDING_PAYMENT)
    response = day["partner_client"].patch(
        url(booking.pk, "assign"), {"staff_id": day["staff"].pk}, format="json"
    )
    assert response.status_code == 409
    assert Booking.objects.get(pk=booking.pk).assigned_staff_id is None


def test_arrival_needs_an_assigned_staff_member(day):
    booking = day["booking"]
    code = last_code(mail.outbox, to=day["customer"].email, booking_id=booking.pk)
    response = day["partner_client"].post(
        url(booking.pk, "confirm-arrival"), {"otp": code}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "staff_not_assigned"
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED
    assert BookingOtp.objects.get(booking=booking).used_at is None


def test_mark_complete_before_arrival_is_409(day):
    response = day["partner_client"].post(url(day["booking"].pk, "mark-complete"))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Booking.objects.get(pk=day["booking"].pk).status == BookingStatus.CONFIRMED


@pytest.mark.parametrize(
    "body",
    [
        {"otp": "12ab"},
        {"otp": "1234567"},
        {"otp": "\u0661\u0662\u0663\u0664\u0665\u0666"},  # Arabic-Indic digits
        {"otp": "\uff11\uff12\uff13\uff14\uff15\uff16"},  # full-width digits
        {"otp": None},
        {"otp": ["123456"]},
        {},
    ],
    ids=["letters", "seven-digits", "arabic-indic", "full-width", "null", "list", "missing"],
)
def test_badly_formed_code_is_400_and_costs_no_attempt(day, body):
    booking = day["booking"]
    booking.assigned_staff = day["staff"]
    booking.save()
    response = day["partner_client"].post(url(booking.pk, "confirm-arrival"), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "otp" in response.json()["errors"]
    assert BookingOtp.objects.get(booking=booking).attempts == 0
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


@pytest.mark.parametrize(
    "body",
    [{"staff_id": "abc"}, {"staff_id": None}, {"staff_id": [1]}, {"staff_id": 0}, {}],
    ids=["text", "null", "list", "zero", "missing"],
)
def test_assign_with_a_malformed_staff_id_is_400_and_changes_nothing(day, body):
    booking = day["booking"]
    response = day["partner_client"].patch(url(booking.pk, "assign"), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "staff_id" in response.json()["errors"]
    assert Booking.objects.get(pk=booking.pk).assigned_staff_id is None
    assert not BookingEvent.objects.filter(booking=booking, kind="staff_assigned").exists()


def test_assign_with_an_out_of_range_staff_id_is_a_404(day):
    booking = day["booking"]
    response = day["partner_client"].patch(
        url(booking.pk, "assign"), {"staff_id": 10**20}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "staff_not_found"
    assert Booking.objects.get(pk=booking.pk).assigned_staff_id is None


def test_a_customer_cannot_call_provider_endpoints_and_vice_versa(day):
    booking, staff = day["booking"], day["staff"]
    customer_client, partner_client = day["customer_client"], day["partner_client"]
    provider_calls = [
        ("patch", url(booking.pk, "assign"), {"staff_id": staff.pk}),
        ("post", url(booking.pk, "confirm-arrival"), {"otp": "123456"}),
        ("post", url(booking.pk, "mark-complete"), {}),
    ]
    customer_calls = [
        ("post", url(booking.pk, "verify-completion", provider=False), {"otp": "123456"}),
        ("post", url(booking.pk, "resend-otp", provider=False), {}),
    ]
    for method, path, data in provider_calls:
        response = getattr(customer_client, method)(path, data, format="json")
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission_denied"
    for method, path, data in customer_calls:
        response = getattr(partner_client, method)(path, data, format="json")
        assert response.status_code == 403, path
    fresh = Booking.objects.get(pk=booking.pk)
    assert (fresh.status, fresh.assigned_staff_id) == (BookingStatus.CONFIRMED, None)
    assert BookingOtp.objects.filter(booking=booking).count() == 1


def test_nobody_can_act_on_another_ones_booking(day):
    booking = day["booking"]
    code = last_code(mail.outbox, to=day["customer"].email, booking_id=booking.pk)
    other_partner = PartnerFactory()
    other_partner_client = authed_client(other_partner.user)
    other_staff = staff_of(other_partner)
    for path, data in [
        (url(booking.pk, "confirm-arrival"), {"otp": code}),
        (url(booking.pk, "mark-complete"), {}),
    ]:
        response = other_partner_client.post(path, data, format="json")
        assert response.status_code == 404, path
    response = other_partner_client.patch(
        url(booking.pk, "assign"), {"staff_id": other_staff.pk}, format="json"
    )
    assert response.status_code == 404

    other_customer_client = authed_client(CustomerFactory())
    for action, data in [("verify-completion", {"otp": code}), ("resend-otp", {})]:
        response = other_customer_client.post(
            url(booking.pk, action, provider=False), data, format="json"
        )
        assert response.status_code == 404, action
        assert response.json()["code"] == "booking_not_found"

    fresh = Booking.objects.get(pk=booking.pk)
    assert (fresh.status, fresh.assigned_staff_id) == (BookingStatus.CONFIRMED, None)
    otp = BookingOtp.objects.get(booking=booking)
    assert (otp.attempts, otp.used_at) == (0, None)
    assert OutboxMessage.objects.filter(booking=booking, kind="otp.arrival").count() == 1


def test_resend_otp_after_arrival_is_409_and_sends_nothing(day):
    booking = day["booking"]
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.IN_PROGRESS)
    response = day["customer_client"].post(url(booking.pk, "resend-otp", provider=False))
    assert response.status_code == 409
    assert OutboxMessage.objects.filter(booking=booking, kind="otp.arrival").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_the_completion_code_complete_the_booking_once():
    partner = PartnerFactory()
    booking = confirmed_booking(partner=partner)  # transactional: codes go out on commit
    staff = staff_of(partner)
    partner_client = authed_client(partner.user)
    partner_client.patch(url(booking.pk, "assign"), {"staff_id": staff.pk}, format="json")
    arrival = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
    partner_client.post(url(booking.pk, "confirm-arrival"), {"otp": arrival}, format="json")
    assert partner_client.post(url(booking.pk, "mark-complete")).status_code == 200
    code = last_code(mail.outbox, to=staff.email, booking_id=booking.pk)
    customer = booking.customer

    def verify(_: int) -> int:
        return (
            authed_client(customer)
            .post(
                url(booking.pk, "verify-completion", provider=False), {"otp": code}, format="json"
            )
            .status_code
        )

    statuses = run_concurrently(4, verify)

    assert statuses.count(200) == 1
    assert all(status in (400, 409) for status in statuses if status != 200)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.COMPLETED
    assert BookingEvent.objects.filter(booking=booking, to_status="COMPLETED").count() == 1
    used = BookingOtp.objects.filter(booking=booking, purpose="completion", used_at__isnull=False)
    assert used.count() == 1


@pytest.mark.django_db(transaction=True)
def test_reassignment_racing_the_arrival_either_lands_before_it_or_is_a_409():
    partner = PartnerFactory()
    booking = confirmed_booking(partner=partner)
    first, second = staff_of(partner), staff_of(partner)
    Booking.objects.filter(pk=booking.pk).update(assigned_staff=first)
    code = last_code(mail.outbox, to=booking.customer.email, booking_id=booking.pk)
    user = partner.user

    def act(index: int) -> int:
        client = authed_client(user)
        if index == 0:
            return client.post(
                url(booking.pk, "confirm-arrival"), {"otp": code}, format="json"
            ).status_code
        return client.patch(
            url(booking.pk, "assign"), {"staff_id": second.pk}, format="json"
        ).status_code

    arrival, reassign = run_concurrently(2, act)

    assert arrival == 200
    fresh = Booking.objects.get(pk=booking.pk)
    assert fresh.status == BookingStatus.IN_PROGRESS
    events = list(BookingEvent.objects.filter(booking=booking).order_by("id"))
    arrived = next(e for e in events if e.to_status == BookingStatus.IN_PROGRESS)
    assert arrived.data["staff_id"] == fresh.assigned_staff_id  # who actually arrived
    kinds = [(e.kind, e.to_status) for e in events]
    if reassign == 200:  # landed first: on the timeline before the arrival
        assert fresh.assigned_staff_id == second.pk
        assert kinds.index(("staff_assigned", "")) < kinds.index(("transition", "IN_PROGRESS"))
    else:
        assert reassign == 409
        assert fresh.assigned_staff_id == first.pk
        assert ("staff_assigned", "") not in kinds
