"""Error tracking with sentry-sdk, on only when ``SENTRY_DSN`` is set (config.settings).

``sentry_sdk.init`` opens no connection: events are sent by a background thread when
there is something to report. Unhandled errors of views and Celery tasks are reported by
the Django and Celery integrations; the logging integration (a default one) turns ERROR
log lines into events as well. Every event is tagged with the request id
(common.request_id), so a Sentry issue leads to the same story in the logs.
"""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from common.request_id import current_request_id


def tag_request_id(event: dict, hint: dict) -> dict:
    """``before_send``: the id of the request or task the error happened in."""
    request_id = current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Start the Sentry client with the Django and Celery integrations.

    No personal data is sent (``send_default_pii`` off: no user emails, cookies or
    bodies); tracing only when ``traces_sample_rate`` > 0.
    """
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        before_send=tag_request_id,
    )
