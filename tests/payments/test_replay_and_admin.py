"""Re-processing stored events (command and admin action) and the support console."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from bookings.models import Booking, BookingEvent, BookingStatus
from payments.models import Payment, WebhookEvent
from tests.factories.bookings import BookingFactory
from tests.factories.payments import PaymentFactory
from tests.payments.conftest import post_webhook, razorpay_delivery, razorpay_payment_event

pytestmark = pytest.mark.django_db

LEDGER = "/admin/payments/webhookevent/"
PAYMENTS = "/admin/payments/payment/"


@pytest.fixture
def captured_event(client):
    payment = PaymentFactory(booking=BookingFactory(), gateway="razorpay", order_id="order_RP")
    body, headers = razorpay_delivery(
        razorpay_payment_event("payment.captured", order_id="order_RP", amount=payment.amount_minor)
    )
    post_webhook(client, "razorpay", body, headers)
    return WebhookEvent.objects.get()


def stored_but_unapplied(payment: Payment) -> WebhookEvent:
    """A ledger row whose effects are missing (e.g. the booking was fixed by hand)."""
    payload = razorpay_payment_event(
        "payment.captured", order_id=payment.order_id, amount=payment.amount_minor
    )
    return WebhookEvent.objects.create(
        gateway="razorpay", event_id="evt_manual", event_type="payment.captured", payload=payload
    )


def confirmations(booking_id: int) -> int:
    return BookingEvent.objects.filter(booking_id=booking_id, to_status="CONFIRMED").count()


def test_replay_command_applies_a_stored_event(capsys):
    payment = PaymentFactory(booking=BookingFactory(), gateway="razorpay")
    event = stored_but_unapplied(payment)

    call_command("replay_webhook", str(event.pk))

    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED
    event.refresh_from_db()
    assert event.outcome == WebhookEvent.Outcome.PROCESSED
    assert "payment.captured evt_manual: processed" in capsys.readouterr().out


def test_replaying_an_applied_event_changes_nothing(captured_event):
    call_command("replay_webhook", str(captured_event.pk))
    call_command("replay_webhook", str(captured_event.pk))

    assert confirmations(captured_event.booking_id) == 1
    assert WebhookEvent.objects.count() == 1
    captured_event.refresh_from_db()
    assert "already_done" in captured_event.detail


def test_replay_command_rejects_an_unknown_id():
    with pytest.raises(CommandError, match="No webhook event"):
        call_command("replay_webhook", "999999")


def test_admin_replay_action_is_idempotent(admin_client_support, captured_event):
    payment = PaymentFactory(booking=BookingFactory(), gateway="razorpay")
    unapplied = stored_but_unapplied(payment)

    response = admin_client_support.post(
        LEDGER,
        {"action": "replay", "_selected_action": [captured_event.pk, unapplied.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert confirmations(captured_event.booking_id) == 1
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.CONFIRMED
    assert confirmations(payment.booking_id) == 1


def test_admin_ledger_lists_filters_and_shows_the_payload(admin_client_support, captured_event):
    listing = admin_client_support.get(LEDGER, {"gateway": "razorpay", "outcome": "processed"})
    detail = admin_client_support.get(f"{LEDGER}{captured_event.pk}/change/")

    assert listing.status_code == 200
    assert captured_event.event_id in listing.content.decode()
    assert detail.status_code == 200
    assert "&quot;payment.captured&quot;" in detail.content.decode()


def test_admin_payment_money_is_read_only_but_a_flag_can_be_cleared(admin_client_support):
    payment = PaymentFactory(flagged=True, flag_reason="odd", amount_minor=49900)

    listing = admin_client_support.get(PAYMENTS, {"flagged__exact": "1", "gateway": "sandbox"})
    response = admin_client_support.post(
        f"{PAYMENTS}{payment.pk}/change/",
        {"flagged": "", "flag_reason": "checked with the gateway", "amount_minor": "1"},
    )

    assert listing.status_code == 200
    assert f"{PAYMENTS}{payment.pk}/change/" in listing.content.decode()
    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.flagged, payment.flag_reason) == (False, "checked with the gateway")
    assert payment.amount_minor == 49900


def test_replaying_a_flagged_capture_never_flags_it_again(admin_client_support, client):
    """Support cleared the flag of a short payment; replays (command, admin action) and a
    second event for the same capture leave the flag cleared and one flag on the timeline."""
    payment = PaymentFactory(booking=BookingFactory(), gateway="razorpay", order_id="order_MM")
    short = payment.amount_minor - 100
    for kind in ("payment.captured", "order.paid"):
        body, headers = razorpay_delivery(
            razorpay_payment_event(kind, order_id="order_MM", amount=short, payment_id="pay_MM")
        )
        post_webhook(client, "razorpay", body, headers)
        if kind == "payment.captured":  # support looks at it and clears the flag
            flagged = WebhookEvent.objects.get()
            assert flagged.outcome == WebhookEvent.Outcome.FLAGGED
            cleared = admin_client_support.post(
                f"{PAYMENTS}{payment.pk}/change/",
                {"flagged": "", "flag_reason": "short payment refunded by hand"},
            )
            assert cleared.status_code == 302

    call_command("replay_webhook", str(flagged.pk))
    admin_client_support.post(
        LEDGER, {"action": "replay", "_selected_action": [flagged.pk]}, follow=True
    )

    payment.refresh_from_db()
    assert (payment.flagged, payment.flag_reason) == (False, "short payment refunded by hand")
    assert (payment.status, payment.captured_amount_minor) == (Payment.Status.CAPTURED, short)
    flags = BookingEvent.objects.filter(booking_id=payment.booking_id, kind="payment_flagged")
    assert flags.count() == 1
    assert Booking.objects.get(pk=payment.booking_id).status == BookingStatus.PENDING_PAYMENT
    assert WebhookEvent.objects.count() == 2


def test_replaying_a_refund_nobody_made_here_never_flags_it_again(admin_client_support, client):
    payment = PaymentFactory(booking=BookingFactory(), gateway="razorpay", order_id="order_RX")
    for payload in (
        razorpay_payment_event(
            "payment.captured", order_id="order_RX", amount=payment.amount_minor, payment_id="pay_X"
        ),
        {
            "entity": "event",
            "event": "refund.processed",
            "payload": {"refund": {"entity": {"id": "rfnd_X", "payment_id": "pay_X", "amount": 5}}},
        },
    ):
        post_webhook(client, "razorpay", *razorpay_delivery(payload))
    refund_event = WebhookEvent.objects.get(event_type="refund.processed")
    assert refund_event.outcome == WebhookEvent.Outcome.FLAGGED
    admin_client_support.post(
        f"{PAYMENTS}{payment.pk}/change/", {"flagged": "", "flag_reason": "dashboard refund"}
    )

    call_command("replay_webhook", str(refund_event.pk))
    call_command("replay_webhook", str(refund_event.pk))

    payment.refresh_from_db()
    assert (payment.flagged, payment.flag_reason) == (False, "dashboard refund")
    flags = BookingEvent.objects.filter(booking_id=payment.booking_id, kind="payment_flagged")
    assert flags.count() == 1
