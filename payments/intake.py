"""Webhook intake: record a verified delivery, answer, and hand its effects to Celery.

The gateway waits for our answer and retries only on a non-2xx, so the request does the
least that makes the event ours: verify the signature and commit the ledger row
(:func:`payments.webhooks.receive_webhook`, one INSERT and one commit), then publish
:func:`payments.tasks.apply_webhook_event`. The capture, the booking's confirmation and
the notices it queues (about ten times the request's own work) run in the worker.

Nothing recorded is lost: the task is acknowledged only after it ran (``acks_late``: a
worker that dies whole leaves it to the broker to redeliver), a failed run is retried,
and the beat's ``payments.tasks.apply_pending_webhooks`` applies whatever is still
pending a minute later (a publish lost with the broker down, a pool process killed
mid-task, retries exhausted). Applying is exactly-once per ledger row
(:func:`payments.webhooks.apply_stored_webhook`), so a task that runs twice, or beside
the sweep, changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from celery.result import EagerResult
from kombu.exceptions import OperationalError

from payments.tasks import apply_webhook_event
from payments.webhooks import WebhookReceipt, receive_webhook

logger = logging.getLogger(__name__)


def ingest_webhook(*, gateway: str, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
    """Verify and record one delivery, then have it applied.

    Raises :class:`payments.gateways.InvalidSignature` (nothing stored) for a body the
    gateway did not sign. A duplicate is answered from the ledger and enqueues nothing
    (its first delivery's row is applied, or will be). A new row is committed before its
    task is published (call this outside any transaction, as the webhook view runs);
    with a worker its outcome is still ``pending`` in the receipt, with eager tasks (no
    broker: development, tests) it is the applied outcome. A broker that cannot take the
    task is logged, not an error: the row is committed and the sweep applies it.
    """
    receipt = receive_webhook(gateway=gateway, body=body, headers=headers)
    if receipt.duplicate:
        return receipt
    try:
        result = apply_webhook_event.delay(receipt.event.pk)
    except OperationalError as exc:
        logger.warning("webhook event %s left to the sweep: %s", receipt.event.pk, exc)
        return receipt
    if isinstance(result, EagerResult):  # applied in this process already
        receipt.event.refresh_from_db(fields=["outcome", "detail", "booking", "processed_at"])
    return receipt
