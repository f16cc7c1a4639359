from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


class AuthRateThrottle(ScopedRateThrottle):
    """Scoped throttle for the auth endpoints (scope ``auth``, rate ``AUTH_THROTTLE_RATE``).

    DRF binds ``THROTTLE_RATES`` once at import; reading the rate per request lets a settings
    change (a test override, a reload) take effect.
    """

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
