"""common.locking: refused outside a transaction, one global order, a bounded wait that
becomes 503 ``busy`` with Retry-After (and changes nothing)."""

import threading

import psycopg
import pytest
from django.db import connection, transaction

from bookings.models import Booking, BookingStatus
from common.locking import LockOrderViolation, LockOutsideTransaction, lock
from conftest import authed_client
from payments.models import Payment
from refunds.models import Refund
from tests.factories.bookings import BookingFactory
from tests.factories.refunds import CapturedPaymentFactory


@pytest.fixture
def paid_booking(make_slot, variant):
    booking = BookingFactory(
        slot=make_slot(hours=48), variant=variant, status=BookingStatus.CONFIRMED
    )
    CapturedPaymentFactory(booking=booking)
    return booking


@pytest.mark.django_db(transaction=True)
def test_a_lock_outside_a_transaction_is_refused(paid_booking):
    assert not connection.in_atomic_block  # autocommit, as in a plain view
    with pytest.raises(LockOutsideTransaction):
        lock(Booking.objects.filter(pk=paid_booking.pk))


@pytest.mark.django_db
def test_locking_against_the_global_order_is_refused_and_relocking_is_fine(paid_booking):
    with transaction.atomic():
        lock(Payment.objects.filter(booking=paid_booking)).get()
        lock(Booking.objects.filter(pk=paid_booking.pk)).get()
        lock(Payment.objects.filter(booking=paid_booking)).get()  # already held: fine
    with (
        pytest.raises(LockOrderViolation, match="payments.payment locked after"),
        transaction.atomic(),
    ):
        lock(Booking.objects.filter(pk=paid_booking.pk)).get()
        lock(Payment.objects.filter(booking=paid_booking)).get()


@pytest.mark.django_db(transaction=True)
def test_the_first_lock_of_a_transaction_bounds_its_wait(paid_booking, settings):
    settings.LOCK_TIMEOUT_MS = 1234
    with transaction.atomic():
        lock(Booking.objects.filter(pk=paid_booking.pk)).get()
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "1234ms"
    with connection.cursor() as cursor:  # SET LOCAL: gone with the transaction
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] != "1234ms"


def _hold_payment_lock(payment_id: int, locked: threading.Event, release: threading.Event):
    """Another client holding the payment row, as a stuck transaction would."""
    settings_dict = connection.settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    ) as conn:
        conn.execute("SELECT id FROM payments_payment WHERE id = %s FOR UPDATE", [payment_id])
        locked.set()
        release.wait(timeout=30)
        conn.rollback()


@pytest.mark.django_db(transaction=True)
def test_a_cancel_that_cannot_get_the_payment_lock_answers_503_busy_and_changes_nothing(
    paid_booking, settings
):
    settings.LOCK_TIMEOUT_MS = 50
    payment = Payment.objects.get(booking=paid_booking)
    client = authed_client(paid_booking.customer)
    url = f"/api/v1/bookings/{paid_booking.pk}/cancel"
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_payment_lock, args=(payment.pk, locked, release))
    holder.start()
    try:
        assert locked.wait(timeout=30)
        busy = client.post(url, {"reason": "ill"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    finally:
        release.set()
        holder.join()

    assert busy.status_code == 503
    assert busy["Content-Type"] == "application/problem+json"
    assert busy.json()["code"] == "busy"
    assert busy["Retry-After"] == "1"
    paid_booking.refresh_from_db()
    assert paid_booking.status == BookingStatus.CONFIRMED
    assert not Refund.objects.exists()

    # The lock is free again: the retry with the same key goes through, once.
    retry = client.post(url, {"reason": "ill"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert retry.status_code == 200
    paid_booking.refresh_from_db()
    assert paid_booking.status == BookingStatus.CANCELLED
    assert Refund.objects.filter(booking=paid_booking).count() == 1
