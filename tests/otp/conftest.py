import pytest

from notifications import sms


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    """SMS go to notifications.sms.outbox (emails go to django.core.mail.outbox)."""
    settings.SMS_BACKEND = "notifications.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()
