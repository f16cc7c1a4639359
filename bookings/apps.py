from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self) -> None:
        # Connect the receivers of booking status changes: messages and partner
        # webhooks, and waitlist entries following their offered bookings.
        from bookings import notices  # noqa: F401
        from bookings.waitlist import receivers  # noqa: F401
