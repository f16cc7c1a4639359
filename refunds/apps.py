from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "refunds"

    def ready(self) -> None:
        # Payments' events (late capture) and the webhook pipeline's refund and dispute
        # handlers.
        from refunds import receivers  # noqa: F401
        from refunds.services import gateway_events  # noqa: F401
