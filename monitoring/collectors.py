"""The business collector: figures computed when Prometheus scrapes, never per request."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from common.broker import broker_in_process, queue_lengths
from monitoring import selectors

# A scrape must answer before Prometheus gives up on it (10 s by default).
BROKER_TIMEOUT_SECONDS = 1.0


class BusinessCollector(Collector):
    """Bookings by status, holds expired, webhook events, refunds, the outbox backlog and
    the Celery queues, read from the database and the broker at each scrape."""

    def collect(self) -> Iterator[Metric]:
        bookings = GaugeMetricFamily(
            "slotwise_bookings", "Bookings by status (outcome).", labels=["status"]
        )
        for status, count in selectors.bookings_by_status().items():
            bookings.add_metric([status], count)
        yield bookings

        yield CounterMetricFamily(
            "slotwise_booking_holds_expired",
            "Unpaid bookings whose hold ran out (moved to EXPIRED).",
            value=selectors.holds_expired(),
        )

        webhooks = GaugeMetricFamily(
            "slotwise_webhook_events",
            "Gateway events in the webhook ledger by gateway, source (webhook or "
            "reconciliation) and outcome. Deliveries refused for a bad signature are never "
            "stored: see slotwise_http_request_duration_seconds of the webhook-* views.",
            labels=["gateway", "source", "outcome"],
        )
        for (gateway, source, outcome), count in sorted(selectors.webhook_events().items()):
            webhooks.add_metric([gateway, source, outcome], count)
        yield webhooks

        refunds = GaugeMetricFamily("slotwise_refunds", "Refunds by status.", labels=["status"])
        for status, count in selectors.refunds_by_status().items():
            refunds.add_metric([status], count)
        yield refunds

        pending, oldest = selectors.outbox_backlog()
        backlog = GaugeMetricFamily(
            "slotwise_outbox_pending",
            "Outbox messages waiting to be delivered, by channel.",
            labels=["channel"],
        )
        for channel, count in pending.items():
            backlog.add_metric([channel], count)
        yield backlog
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "slotwise_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox message still waiting (0 when none waits).",
            value=max(age, 0.0),
        )

        yield from broker_metrics()


def broker_metrics() -> Iterator[Metric]:
    """Tasks waiting per Celery queue and whether the broker answered; nothing in the
    embedded mode, where tasks run in-process and nothing waits."""
    if broker_in_process():
        return
    lengths = queue_lengths(timeout=BROKER_TIMEOUT_SECONDS)
    yield GaugeMetricFamily(
        "slotwise_broker_up",
        "1 if the Celery broker answered this scrape, else 0.",
        value=0 if lengths is None else 1,
    )
    queues = GaugeMetricFamily(
        "slotwise_celery_queue_length", "Tasks waiting in each Celery queue.", labels=["queue"]
    )
    for queue, length in sorted((lengths or {}).items()):
        queues.add_metric([queue], length)
    yield queues
