"""Disputes and support refund endpoints over HTTP."""

import pytest

from bookings.models import Booking, BookingStatus
from conftest import authed_client
from refunds.models import Dispute, Refund
from tests.factories.accounts import CustomerFactory
from tests.factories.refunds import DisputeFactory


@pytest.fixture
def support_client(support_user):
    return authed_client(support_user)


def _disputes_url(booking):
    return f"/api/v1/bookings/{booking.pk}/disputes"


@pytest.mark.django_db
@pytest.mark.parametrize("status", [BookingStatus.COMPLETED, BookingStatus.CANCELLED])
def test_customer_opens_a_dispute_on_a_completed_or_cancelled_booking(
    customer_client, captured_payment, status
):
    booking = captured_payment(status=status).booking
    response = customer_client.post(_disputes_url(booking), {"reason": "bad job"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["booking_id"], body["status"], body["source"]) == (booking.pk, "open", "customer")
    dispute = Dispute.objects.get(booking=booking)
    assert dispute.raised_by == booking.customer
    assert booking.events.filter(kind="dispute_opened").exists()


@pytest.mark.django_db
def test_second_open_dispute_is_409_dispute_already_open(customer_client, captured_payment):
    booking = captured_payment(status=BookingStatus.COMPLETED).booking
    assert (
        customer_client.post(_disputes_url(booking), {"reason": "a"}, format="json").status_code
        == 201
    )
    response = customer_client.post(_disputes_url(booking), {"reason": "b"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "dispute_already_open"
    assert Dispute.objects.filter(booking=booking).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", [BookingStatus.CONFIRMED, BookingStatus.PENDING_PAYMENT])
def test_dispute_on_an_active_booking_is_409(customer_client, captured_payment, status):
    booking = captured_payment(status=status).booking
    response = customer_client.post(_disputes_url(booking), {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "dispute_not_allowed"
    assert not Dispute.objects.exists()


@pytest.mark.django_db
def test_dispute_on_someone_elses_booking_is_404_and_reason_is_required(captured_payment):
    booking = captured_payment(status=BookingStatus.COMPLETED).booking
    stranger = authed_client(CustomerFactory())
    response = stranger.post(_disputes_url(booking), {"reason": "x"}, format="json")
    # The same answer as for any other booking id that is not yours (cancel, detail).
    assert (response.status_code, response.json()["code"]) == (404, "booking_not_found")
    owner = authed_client(booking.customer)
    response = owner.post(_disputes_url(booking), {}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert not Dispute.objects.exists()


@pytest.mark.django_db
def test_support_manual_partial_refunds_stop_at_the_captured_amount(
    support_client, captured_payment, django_capture_on_commit_callbacks
):
    booking = captured_payment(amount=10000).booking
    url = f"/api/v1/support/bookings/{booking.pk}/refunds"
    with django_capture_on_commit_callbacks(execute=True):
        first = support_client.post(url, {"amount": 6000, "reason": "late"}, format="json")
    assert first.status_code == 201, first.content
    assert (first.json()["amount"], first.json()["source"]) == (6000, "manual")
    assert Refund.objects.get(pk=first.json()["id"]).status == Refund.Status.SUCCEEDED

    too_much = support_client.post(url, {"amount": 4001, "reason": "more"}, format="json")
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "refund_exceeds_captured"
    rest = support_client.post(url, {"amount": 4000, "reason": "rest"}, format="json")
    assert rest.status_code == 201
    assert sum(Refund.objects.values_list("amount_minor", flat=True)) == 10000


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [{"amount": 0, "reason": "x"}, {"amount": "1.5", "reason": "x"}, {"reason": "x"}]
)
def test_support_manual_refund_bad_amount_is_400(support_client, captured_payment, body):
    booking = captured_payment().booking
    response = support_client.post(
        f"/api/v1/support/bookings/{booking.pk}/refunds", body, format="json"
    )
    assert response.status_code == 400
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_support_endpoints_are_for_support_only(customer_client, captured_payment):
    booking = captured_payment().booking
    response = customer_client.post(
        f"/api/v1/support/bookings/{booking.pk}/refunds", {"amount": 1, "reason": "x"}
    )
    assert response.status_code == 403
    assert customer_client.get("/api/v1/support/refunds").status_code == 403
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_manual_refund_without_capture_is_409_and_unknown_booking_404(support_client, customer):
    from tests.factories.bookings import BookingFactory

    booking = BookingFactory(customer=customer)
    url = f"/api/v1/support/bookings/{booking.pk}/refunds"
    response = support_client.post(url, {"amount": 1, "reason": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "nothing_captured")
    response = support_client.post(
        "/api/v1/support/bookings/999999/refunds", {"amount": 1, "reason": "x"}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_support_retry_endpoint_requeues_a_failed_refund(
    support_client, failed_refund, django_capture_on_commit_callbacks
):
    refund = failed_refund(amount=100)
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(f"/api/v1/support/refunds/{refund.pk}/retry")
    assert response.status_code == 200, response.content
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED  # sandbox ran after commit
    again = support_client.post(f"/api/v1/support/refunds/{refund.pk}/retry")
    assert (again.status_code, again.json()["code"]) == (409, "refund_not_retryable")
    listing = support_client.get("/api/v1/support/refunds?status=succeeded")
    assert [r["id"] for r in listing.json()["results"]] == [refund.pk]


@pytest.mark.django_db
def test_dispute_factory_booking_is_completed():
    dispute = DisputeFactory()
    assert Booking.objects.get(pk=dispute.booking_id).status == BookingStatus.COMPLETED


@pytest.mark.django_db
def test_a_retried_manual_refund_with_the_same_idempotency_key_refunds_once(
    support_client, captured_payment
):
    """A support client retrying a timed-out POST must not pay the customer twice."""
    booking = captured_payment(amount=10000).booking
    url = f"/api/v1/support/bookings/{booking.pk}/refunds"
    body = {"amount": 3000, "reason": "goodwill"}
    first = support_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rf-1")
    again = support_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rf-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Refund.objects.filter(booking=booking).count() == 1


@pytest.mark.django_db
def test_a_retried_cancel_with_the_same_key_replays_the_first_answer(captured_payment):
    booking = captured_payment(amount=10000).booking
    client = authed_client(booking.customer)
    url = f"/api/v1/bookings/{booking.pk}/cancel"
    first = client.post(url, {"reason": "ill"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    again = client.post(url, {"reason": "ill"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    other = client.post(url, {"reason": "ill"}, format="json", HTTP_IDEMPOTENCY_KEY="c-2")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (other.status_code, other.json()["code"]) == (409, "already_cancelled")
    assert Refund.objects.filter(booking=booking).count() == 1
