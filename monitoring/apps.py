from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Prometheus metrics of the requests and the business; reads every app, writes none."""

    name = "monitoring"
    verbose_name = "Monitoring"
