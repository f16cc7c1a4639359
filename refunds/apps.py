from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "refunds"

    def ready(self) -> None:
        # Payments' events (late capture), bookings' (refund terms of a new booking), the
        # webhook pipeline's refund and dispute handlers, and the booking fields.
        from refunds import booking_fields, receivers  # noqa: F401
        from refunds.services import gateway_events  # noqa: F401
