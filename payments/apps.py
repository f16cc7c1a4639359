from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        # The receivers of booking status changes, and ``payment`` in every
        # representation of a booking (bookings.extensions).
        from payments import booking_fields, receivers  # noqa: F401
