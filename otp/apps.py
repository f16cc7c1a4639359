from django.apps import AppConfig


class OtpConfig(AppConfig):
    name = "otp"

    def ready(self) -> None:
        # Connects the status-change receiver and registers the code issuer.
        from otp import receivers  # noqa: F401
