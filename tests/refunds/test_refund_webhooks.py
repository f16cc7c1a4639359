"""Gateway refund events through the real webhook endpoints, refunds made through the
gateways faked at the HTTP boundary (``tests.refunds.fake_gateways``)."""

import pytest
import responses

from bookings.models import BookingEvent
from payments.models import Payment
from refunds import services
from refunds.models import Refund
from refunds.tasks import execute_refund
from tests.factories.refunds import create_refund_of
from tests.refunds.fake_gateways import FakeRefunds

GATEWAYS = ["stripe", "razorpay"]


def _events(payment, kind):
    return BookingEvent.objects.filter(booking=payment.booking, kind=kind).count()


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize("gateway", GATEWAYS)
def test_webhook_of_the_second_of_two_equal_refunds_before_its_task_recorded_it(
    gateway, fake_gateways, captured_payment, client, django_capture_on_commit_callbacks
):
    payment = captured_payment(gateway=gateway, amount=20000)
    with django_capture_on_commit_callbacks(execute=False):  # both tasks still queued
        first = create_refund_of(payment, 10000)
        second = create_refund_of(payment, 10000)
    fake = FakeRefunds(gateway, payment).install()
    # The gateway reports the second refund done while our request for it is still open.
    fake.while_in_flight = lambda made: fake.deliver(client, fake.webhook(made, succeeded=True))
    assert execute_refund.apply(args=[second.pk]).get() == "succeeded"
    fake.while_in_flight = None
    assert execute_refund.apply(args=[first.pk]).get() == "succeeded"
    fake.deliver(client, fake.webhook(fake.refund_for(first), succeeded=True))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.gateway_refund_id) == (
        Refund.Status.SUCCEEDED,
        fake.refund_for(first)["id"],
    )
    assert (second.status, second.gateway_refund_id) == (
        Refund.Status.SUCCEEDED,
        fake.refund_for(second)["id"],
    )
    # Each refund request names our refund: its idempotency key, also in notes/metadata.
    assert fake.sent() == [
        {"key": second.idempotency_key, "amount": 10000, "reference": second.idempotency_key},
        {"key": first.idempotency_key, "amount": 10000, "reference": first.idempotency_key},
    ]
    payment.refresh_from_db()
    assert (payment.status, payment.flagged) == (Payment.Status.REFUNDED, False)
    assert _events(payment, "refund_succeeded") == 2
    assert _events(payment, "refund_gateway_id_moved") == 0


@pytest.mark.django_db
@responses.activate
def test_an_id_guessed_by_amount_moves_to_the_refund_the_gateway_made_it_for(
    fake_gateways, captured_payment, support_user, django_capture_on_commit_callbacks
):
    """An event without our reference (a refund sent before references were) is matched
    by amount when one in-flight refund has it; if the gateway then returns that id for
    another refund's own idempotency key, the id moves there and the guessed refund asks
    the gateway again for its own."""
    payment = captured_payment(gateway="stripe", amount=20000)
    with django_capture_on_commit_callbacks(execute=False):
        guessed = create_refund_of(payment, 10000)
        owner = create_refund_of(payment, 10000)
    services.mark_refund_failed(refund_id=owner.pk, error="no answer")  # before the event
    services.reconcile_gateway_refund(
        payment=payment,
        gateway_refund_id="re_legacy",
        succeeded=True,
        amount_minor=10000,
        detail="",
    )
    guessed.refresh_from_db()
    assert (guessed.status, guessed.gateway_refund_id) == (Refund.Status.SUCCEEDED, "re_legacy")

    fake = FakeRefunds("stripe", payment).install()
    fake.refunds[owner.idempotency_key] = {
        "id": "re_legacy",
        "object": "refund",
        "amount": 10000,
        "status": "succeeded",
    }
    with django_capture_on_commit_callbacks(execute=True):
        services.retry_refund(refund_id=owner.pk, actor=support_user)

    owner.refresh_from_db()
    guessed.refresh_from_db()
    assert (owner.status, owner.gateway_refund_id) == (Refund.Status.SUCCEEDED, "re_legacy")
    # The guessed refund was put back in flight and re-sent with its own key at once.
    assert (guessed.status, guessed.gateway_refund_id) == (
        Refund.Status.SUCCEEDED,
        fake.refund_for(guessed)["id"],
    )
    assert [sent["key"] for sent in fake.sent()] == [
        owner.idempotency_key,
        guessed.idempotency_key,
    ]
    moved = BookingEvent.objects.get(booking=payment.booking, kind="refund_gateway_id_moved")
    assert moved.data["refund_id"] == guessed.pk
    assert moved.data["moved_to_refund_id"] == owner.pk
    assert moved.data["previous_status"] == Refund.Status.SUCCEEDED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert payment.flagged  # support sees that a refund was re-matched
    assert f"Refund #{guessed.pk}" in payment.flag_reason


@pytest.mark.django_db
def test_an_event_without_reference_matching_two_equal_refunds_is_flagged_not_guessed(
    captured_payment,
):
    payment = captured_payment(gateway="stripe", amount=20000)
    first = create_refund_of(payment, 10000)
    second = create_refund_of(payment, 10000)
    found = services.reconcile_gateway_refund(
        payment=payment, gateway_refund_id="re_x", succeeded=True, amount_minor=10000, detail=""
    )
    assert found is None  # the caller flags the payment; support replays the event later
    assert set(Refund.objects.values_list("pk", "status", "gateway_refund_id")) == {
        (first.pk, Refund.Status.PENDING, ""),
        (second.pk, Refund.Status.PENDING, ""),
    }


@pytest.mark.django_db
def test_a_late_event_of_an_earlier_key_round_changes_nothing(captured_payment, support_user):
    """Support retried a refund the gateway had failed: the retry is a new gateway refund
    (next key round); a redelivered failure of the first one must not fail it."""
    payment = captured_payment(gateway="stripe", amount=20000)
    refund = create_refund_of(payment, 10000)
    first_key = refund.idempotency_key
    services.mark_refund_awaiting_gateway(refund_id=refund.pk, gateway_refund_id="re_first")
    services.reconcile_gateway_refund(
        payment=payment,
        gateway_refund_id="re_first",
        succeeded=False,
        amount_minor=10000,
        detail="refund.failed",
        reference=first_key,
    )
    services.retry_refund(refund_id=refund.pk, actor=support_user)  # round 1, no id yet

    again = services.reconcile_gateway_refund(
        payment=payment,
        gateway_refund_id="re_first",
        succeeded=False,
        amount_minor=10000,
        detail="refund.failed",
        reference=first_key,
    )

    assert again.pk == refund.pk
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id, refund.key_round) == (
        Refund.Status.PENDING,
        "",
        1,
    )


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize(
    ("gateway", "event_type", "also_sent"),
    [
        ("razorpay", "refund.failed", None),
        # Stripe sends both for one failure, in any order.
        ("stripe", "refund.failed", "refund.updated"),
        ("stripe", "refund.updated", "refund.failed"),
    ],
)
def test_a_signed_refund_failure_webhook_fails_the_refund_and_flags_it_once(
    gateway,
    event_type,
    also_sent,
    fake_gateways,
    captured_payment,
    client,
    admin_client_support,
    django_capture_on_commit_callbacks,
):
    from payments.models import WebhookEvent

    payment = captured_payment(gateway=gateway, amount=20000)
    fake = FakeRefunds(gateway, payment, outcome="pending").install()
    with django_capture_on_commit_callbacks(execute=True):
        refund = create_refund_of(payment, 15000)
    refund.refresh_from_db()
    made = fake.refund_for(refund)
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PROCESSING, made["id"])

    failure = fake.webhook(made, succeeded=False, event_type=event_type, event_id="evt_fail_1")
    assert fake.deliver(client, failure).json()["outcome"] == "processed"

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.last_error  # the gateway's reason, shown to support
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.flagged
    assert payment.flag_reason.startswith(f"Refund #{refund.pk} failed")
    attention = admin_client_support.get("/admin/refunds/refund/", {"attention": "yes"})
    assert f"/admin/refunds/refund/{refund.pk}/change/".encode() in attention.content
    assert _events(payment, "refund_failed") == 1
    settled = (refund.status, refund.last_error, refund.updated_at)

    # The same event again (a gateway retry), then Stripe's other event of the failure.
    assert fake.deliver(client, failure).json()["duplicate"] is True
    if also_sent:
        other = fake.webhook(made, succeeded=False, event_type=also_sent, event_id="evt_fail_2")
        assert fake.deliver(client, other).json()["outcome"] == "processed"

    refund.refresh_from_db()
    assert (refund.status, refund.last_error, refund.updated_at) == settled
    assert _events(payment, "refund_failed") == 1
    assert WebhookEvent.objects.filter(gateway=gateway).count() == (2 if also_sent else 1)
    assert len(fake.sent()) == 1  # nothing was sent to the gateway again
