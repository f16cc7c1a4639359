"""The Celery app (``celery -A config worker -B``).

Periodic tasks are declared here in one table so operators see the whole
schedule in one place.
"""

import os

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def keep_django_logging(**_kwargs) -> None:
    """A worker and beat log through Django's LOGGING (LOG_FORMAT, LOG_LEVEL, request ids):
    with a receiver here Celery leaves the root logger, its handlers and level alone."""


app.conf.beat_schedule = {
    "expire-booking-holds": {
        "task": "bookings.tasks.expire_holds",
        "schedule": 60.0,
    },
    "sweep-waitlists": {
        "task": "payments.tasks.sweep_waitlists",
        "schedule": 60.0,
    },
    "apply-pending-webhooks": {
        "task": "payments.tasks.apply_pending_webhooks",
        "schedule": 60.0,
    },
    "dispatch-outbox": {
        "task": "notifications.tasks.dispatch_outbox",
        "schedule": 30.0,
    },
    "enqueue-booking-reminders": {
        "task": "bookings.tasks.enqueue_booking_reminders",
        "schedule": 300.0,
    },
    "resume-stalled-refunds": {
        "task": "refunds.tasks.resume_stalled_refunds",
        "schedule": 300.0,
    },
    "reconcile-payments": {
        "task": "refunds.tasks.reconcile_payments",
        "schedule": 300.0,
    },
    "purge-idempotency-keys": {
        "task": "common.tasks.purge_expired_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    "purge-expired-refresh-tokens": {
        "task": "accounts.tasks.purge_expired_refresh_tokens",
        "schedule": crontab(hour=3, minute=41),
    },
}
