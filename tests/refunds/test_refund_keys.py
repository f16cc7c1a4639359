"""Refund idempotency keys: unique across databases sharing a gateway account, stable
for the life of a refund."""

import importlib
import re

import pytest
from django.apps import apps

from refunds import services
from refunds.models import Refund, refund_key_base
from tests.factories.refunds import create_refund_of

# Razorpay's X-Refund-Idempotency: at least 10 of [A-Za-z0-9_-]; Stripe allows 255.
GATEWAY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,64}$")


def test_the_same_refund_id_under_another_gateway_order_gets_another_key():
    """Two databases sharing one gateway account both have a refund #7; their payments'
    orders were issued by that account, so they differ, and so do the keys."""
    here = refund_key_base(refund_id=7, order_id="order_Pq1x9AbCdEf")
    there = refund_key_base(refund_id=7, order_id="order_Zz8y2GhIjKl")
    assert here != there
    assert here == refund_key_base(refund_id=7, order_id="order_Pq1x9AbCdEf")
    assert here.startswith("slotwise-refund-7-")
    assert GATEWAY_KEY.match(here)
    long_session = "cs_test_" + "a1B2c3" * 12
    assert GATEWAY_KEY.match(refund_key_base(refund_id=2**31 - 1, order_id=long_session))


@pytest.mark.django_db
def test_a_refund_keeps_the_key_it_got_at_creation(captured_payment, support_user):
    payment = captured_payment(gateway="stripe")
    refund = create_refund_of(payment, 100, reason="key")
    key = refund.idempotency_key
    assert key == refund_key_base(refund_id=refund.pk, order_id=payment.order_id)
    assert Refund.objects.get(pk=refund.pk).idempotency_key == key

    # Attempts, a failure before the gateway accepted it and a support retry: same key.
    services.claim_refund_attempt(refund_id=refund.pk)
    services.mark_refund_failed(refund_id=refund.pk, error="GatewayError: timeout")
    services.retry_refund(refund_id=refund.pk, actor=support_user)
    refund.refresh_from_db()
    assert (refund.idempotency_key, refund.attempts) == (key, 0)

    # Only a refund the gateway itself failed is a new gateway refund: the next round.
    services.mark_refund_awaiting_gateway(refund_id=refund.pk, gateway_refund_id="re_k1")
    services.mark_refund_failed(refund_id=refund.pk, error="refund.failed")
    services.retry_refund(refund_id=refund.pk, actor=support_user)
    refund.refresh_from_db()
    assert refund.idempotency_key == f"{key}-round1"


@pytest.mark.django_db
def test_refunds_made_before_the_namespace_keep_the_key_they_were_sent_with(captured_payment):
    migration = importlib.import_module("refunds.migrations.0005_refund_key_base")
    payment = captured_payment()
    refund = create_refund_of(payment, 100, reason="old")
    Refund.objects.filter(pk=refund.pk).update(key_base="")  # as the column arrives

    migration.keep_the_keys_already_sent(apps, None)

    refund.refresh_from_db()
    assert refund.idempotency_key == f"slotwise-refund-{refund.pk}"
