from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self) -> None:
        from bookings import receivers_waitlist  # noqa: F401  (connects the waitlist receiver)
