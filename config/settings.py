"""Slotwise settings: one module, every knob from the environment.

Two modes (see README and docs/architecture.md):

* Embedded default (no ``DATABASE_URL``): SQLite, local-memory cache, Celery
  tasks run eagerly, the offline ``sandbox`` payment gateway.
* Production (``DATABASE_URL`` / ``REDIS_URL`` set): PostgreSQL, django-redis,
  a real Celery broker, Razorpay (default) or Stripe; the sandbox only when
  ``PAYMENT_SANDBOX_ENABLED`` opts in.

Every variable is listed with its default in ``.env.example``.
"""

import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    # An empty variable (as copied from .env.example) means "use the default".
    return os.environ.get(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
# The embedded default is everything-offline; production is anything with a database URL.
EMBEDDED = not DATABASE_URL

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set.")
    # Only the offline demo mode may run on a known key.
    SECRET_KEY = "embedded-demo-only-this-is-not-a-secret-value"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# A CSRF rejection is a 403 problem like every other error, not Django's HTML page.
CSRF_FAILURE_VIEW = "common.views.csrf_failure"

INSTALLED_APPS = [
    # django.contrib.admin whose site opens with the operators' dashboard (console.sites).
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # ExclusionConstraint (common.constraints): slots and staff never overlap in time.
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt",
    # Logout and password changes blacklist refresh tokens (accounts.services).
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "common",
    "accounts",
    "partners",
    "bookings",
    "payments",
    "otp",
    "refunds",
    "notifications",
    "console",
    "monitoring",
]

MIDDLEWARE = [
    # First: every answer, including a redirect or a 413, has its X-Request-ID and every
    # log line its request id; then the latency of everything below, by view.
    "common.request_id.RequestIdMiddleware",
    "monitoring.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Absolute links follow the request's host when PUBLIC_BASE_URL is unset.
    "common.links.RequestLinksMiddleware",
    # Before anything reads a body: 413 for a declared body over DATA_UPLOAD_MAX_MEMORY_SIZE.
    "common.limits.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.db_router.ReplicaReadsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Admin pages render times in the operators' zone (ADMIN_TIME_ZONE), zone named.
    "common.admin_time.AdminTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: answers a locked-out admin login attempt.
    "axes.middleware.AxesMiddleware",
]

# Largest request body accepted (bytes); a larger one is a 413 payload_too_large problem.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],  # the landing page (config/landing.py)
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Writers wait for each other instead of failing with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
else:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
    if DATABASE_REPLICA_URL:
        # Catalog and slot-listing reads of the public GET endpoints (config.db_router).
        # Tests point it at the test database itself: a mirror, not a second database.
        DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL)
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
        DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
    for _database in DATABASES.values():
        if env_bool("DB_POOL"):
            # psycopg_pool inside each process (one pool per gunicorn worker, shared by its
            # threads); Django requires CONN_MAX_AGE 0 with it.
            _database["CONN_MAX_AGE"] = 0
            _database.setdefault("OPTIONS", {})["pool"] = {
                "min_size": env_int("DB_POOL_MIN_SIZE", 2),
                "max_size": env_int("DB_POOL_MAX_SIZE", 8),
                "timeout": env_int("DB_POOL_TIMEOUT", 10),
            }
        else:
            # Persistent connections (one per thread), checked before reuse after an error.
            _database["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
            _database["CONN_HEALTH_CHECKS"] = True
        # Behind PgBouncer in transaction mode: named cursors do not survive a transaction
        # boundary on another server connection (docs/scaling.md).
        _database["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DB_DISABLE_SERVER_SIDE_CURSORS")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Redis down must not take the API down: a bounded wait, then the cache
                # degrades (reads miss, writes are dropped, throttles stop counting).
                "SOCKET_CONNECT_TIMEOUT": env_int("CACHE_SOCKET_TIMEOUT_SECONDS", 1),
                "SOCKET_TIMEOUT": env_int("CACHE_SOCKET_TIMEOUT_SECONDS", 1),
            },
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "slotwise"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The sandbox gateway's memory of its orders (payments.gateways.sandbox): what its checkout
# page took is read by reconciliation, which runs in beat or `manage.py reconcile_payments`,
# other processes than the server's. Redis is shared; without it, files under var/.
CACHES["sandbox"] = (
    CACHES["default"]
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(BASE_DIR / "var" / "sandbox-gateway"),
    }
)
# django-redis: a connection error is logged and treated as a cache miss, not raised.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out admin login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Admin login lockout (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT failures for one
# account, or from one address, further attempts are refused (429) for
# ADMIN_LOGIN_LOCKOUT_MINUTES. The API's token endpoint has its own throttle instead.
# Another admin unlocks by deleting the "Access attempts" rows in the admin (or
# `manage.py axes_reset_username <email>` / `axes_reset_ip <address>`).
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The admin login form names its email field "username" (the default is USERNAME_FIELD).
AXES_USERNAME_FORM_FIELD = "username"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The operators' zone: the admin shows times in it (a city's times in the city's zone),
# always with the zone's name. Our date formats put the zone in every time.
ADMIN_TIME_ZONE = env_str("ADMIN_TIME_ZONE", "Asia/Kolkata")
try:
    ZoneInfo(ADMIN_TIME_ZONE)
except (ValueError, ZoneInfoNotFoundError) as exc:
    raise ImproperlyConfigured(
        f"ADMIN_TIME_ZONE {ADMIN_TIME_ZONE!r} is not an IANA time zone."
    ) from exc
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.problems.problem_exception_handler",
    # Reverse proxies in front of the app: throttles identify a client by the address the
    # last of them saw. 0 ignores X-Forwarded-For, which a client could otherwise rotate to
    # escape the auth throttle.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("AUTH_THROTTLE_RATE", "20/min"),
        # Per user (common.limits.UserRateThrottle): 429 throttled with Retry-After.
        "booking": env_str("BOOKING_THROTTLE_RATE", "30/hour"),
        "waitlist": env_str("WAITLIST_THROTTLE_RATE", "30/hour"),
        "cancel": env_str("CANCEL_THROTTLE_RATE", "30/hour"),
        "otp": env_str("OTP_THROTTLE_RATE", "20/hour"),
        "payment_verify": env_str("PAYMENT_VERIFY_THROTTLE_RATE", "30/hour"),
    },
    "PAGE_SIZE": 20,
}
PAGE_SIZE_MAX = 100
# The admin lockout identifies the client like the throttles do (NUM_PROXIES).
if REST_FRAMEWORK["NUM_PROXIES"]:
    AXES_IPWARE_PROXY_COUNT = REST_FRAMEWORK["NUM_PROXIES"]
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "UPDATE_LAST_LOGIN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Slotwise API",
    "DESCRIPTION": "Booking backend for service marketplaces.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.schema.declare_shared_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "UserRoleEnum": "accounts.models.Role.choices",
        "RegisterRoleEnum": "accounts.serializers.SELF_REGISTER_ROLES",
        "BookingStatusEnum": "bookings.models.BookingStatus.choices",
        "PaymentStatusEnum": "payments.models.PaymentStatus",
        "RefundStatusEnum": "refunds.models.RefundStatus",
        "RefundSourceEnum": "refunds.models.RefundSource",
        "DisputeStatusEnum": "refunds.models.DisputeStatus",
        "DisputeSourceEnum": "refunds.models.DisputeSource",
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# Embedded default: no broker, tasks run in-process (still only after commit, see on_commit).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}  # filled in config/celery.py from each app's schedule

# --- Domain knobs ---------------------------------------------------------------------------
BOOKING_HOLD_MINUTES = env_int("BOOKING_HOLD_MINUTES", 15)
# A customer may move a booking until this long before it starts, at most this many times.
RESCHEDULE_CUTOFF_HOURS = env_int("RESCHEDULE_CUTOFF_HOURS", 2)
RESCHEDULE_MAX_TIMES = env_int("RESCHEDULE_MAX_TIMES", 2)
# A partner's cancelled booking goes to another partner's slot starting within this many
# minutes of the original start (0: exactly the same time).
REASSIGN_WINDOW_MINUTES = env_int("REASSIGN_WINDOW_MINUTES", 0)
# Longest wait for a row lock (common.locking) before the request answers 503 `busy`.
LOCK_TIMEOUT_MS = env_int("LOCK_TIMEOUT_MS", 3000)
# Partners may open slots at most this many days ahead.
SLOT_MAX_DAYS_AHEAD = env_int("SLOT_MAX_DAYS_AHEAD", 365)
# Unpaid (PENDING_PAYMENT) bookings one customer may hold at once.
MAX_PENDING_BOOKINGS = env_int("MAX_PENDING_BOOKINGS", 3)
OTP_TTL_MINUTES = env_int("OTP_TTL_MINUTES", 15)
# A partner confirms the arrival from this many minutes before the slot starts until it ends.
ARRIVAL_WINDOW_MINUTES = env_int("ARRIVAL_WINDOW_MINUTES", 60)
# HMAC key of stored one-time codes; empty: derived from SECRET_KEY.
OTP_HASH_KEY = env_str("OTP_HASH_KEY")
# At most OTP_ISSUE_LIMIT codes per booking and purpose per OTP_ISSUE_WINDOW_MINUTES.
OTP_ISSUE_LIMIT = env_int("OTP_ISSUE_LIMIT", 3)
OTP_ISSUE_WINDOW_MINUTES = env_int("OTP_ISSUE_WINDOW_MINUTES", 10)
BOOKING_REMINDER_MINUTES = env_int("BOOKING_REMINDER_MINUTES", 120)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 5)
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
# An in-progress key older than this was left by a crashed worker; a retry may take it over.
IDEMPOTENCY_STALE_CLAIM_SECONDS = env_int("IDEMPOTENCY_STALE_CLAIM_SECONDS", 300)
DEFAULT_CURRENCY = env_str("DEFAULT_CURRENCY", "INR")
# Highest price (minor units) a partner may set for an offering or a seat type; at most
# 21474836 so that price x quantity (<= 100) fits the integer amount columns.
OFFERING_MAX_PRICE_MINOR = min(env_int("OFFERING_MAX_PRICE_MINOR", 10_000_000), 21_474_836)
# Base of absolute links (checkout pages, links in messages). Unset: the host and port of
# the request being served, else http://127.0.0.1:<PORT> (common.links).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL")
# The port `make run` serves on (Makefile PORT): links made outside a request point there.
RUN_PORT = env_int("PORT", 8000)

# --- Payment gateways -----------------------------------------------------------------------
# The sandbox confirms bookings without money: only the embedded default has it out of the box.
PAYMENT_DEFAULT_GATEWAY = env_str("PAYMENT_DEFAULT_GATEWAY", "sandbox" if EMBEDDED else "razorpay")
RAZORPAY_KEY_ID = env_str("RAZORPAY_KEY_ID")
RAZORPAY_KEY_SECRET = env_str("RAZORPAY_KEY_SECRET")
RAZORPAY_WEBHOOK_SECRET = env_str("RAZORPAY_WEBHOOK_SECRET")
RAZORPAY_API_BASE = env_str("RAZORPAY_API_BASE", "https://api.razorpay.com")
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
# The sandbox gateway signs its webhooks like Razorpay does; in the embedded default a
# derived key is fine because both sides of the signature live in this process.
SANDBOX_WEBHOOK_SECRET = env_str("SANDBOX_WEBHOOK_SECRET", "sandbox-" + SECRET_KEY[:16])
# The sandbox checkout page and webhook confirm bookings without money: on in the embedded
# default only; with DATABASE_URL set it takes an explicit opt-in (staging demos, the tests).
# Naming it the default gateway is not an opt-in: that is what an old .env.example did.
PAYMENT_SANDBOX_ENABLED = env_bool("PAYMENT_SANDBOX_ENABLED", EMBEDDED)
if PAYMENT_DEFAULT_GATEWAY not in ("razorpay", "stripe", "sandbox"):
    raise ImproperlyConfigured("PAYMENT_DEFAULT_GATEWAY must be razorpay, stripe or sandbox.")
if PAYMENT_DEFAULT_GATEWAY == "sandbox" and not PAYMENT_SANDBOX_ENABLED:
    raise ImproperlyConfigured(
        "PAYMENT_DEFAULT_GATEWAY=sandbox needs PAYMENT_SANDBOX_ENABLED=true outside the embedded "
        "default (the sandbox confirms bookings without money)."
    )

# --- Partner webhooks -----------------------------------------------------------------------
PARTNER_WEBHOOK_TIMEOUT_SECONDS = env_int("PARTNER_WEBHOOK_TIMEOUT_SECONDS", 10)
# http:// and local addresses are refused unless this is on (development only).
PARTNER_WEBHOOK_ALLOW_INSECURE_URLS = env_bool("PARTNER_WEBHOOK_ALLOW_INSECURE_URLS", DEBUG)

# --- Refunds --------------------------------------------------------------------------------
# Gateway attempts per refund run (retryable errors back off exponentially with jitter from
# REFUND_RETRY_BASE_SECONDS); the beat sweep re-runs refunds idle for REFUND_STALL_MINUTES.
REFUND_MAX_ATTEMPTS = env_int("REFUND_MAX_ATTEMPTS", 5)
REFUND_RETRY_BASE_SECONDS = env_int("REFUND_RETRY_BASE_SECONDS", 30)
REFUND_STALL_MINUTES = env_int("REFUND_STALL_MINUTES", 15)

# --- Reconciliation (refunds.tasks.reconcile_payments, manage.py reconcile_payments) --------
# Payments created within the look-back whose hold expires within the margin (or has
# expired) are looked up at their gateway; so are refunds the gateway accepted and has not
# settled; one still pending after RECONCILE_REFUND_PENDING_HOURS is flagged for support.
RECONCILE_LOOKBACK_HOURS = env_int("RECONCILE_LOOKBACK_HOURS", 168)
RECONCILE_HOLD_MARGIN_MINUTES = env_int("RECONCILE_HOLD_MARGIN_MINUTES", 5)
RECONCILE_REFUND_PENDING_HOURS = env_int("RECONCILE_REFUND_PENDING_HOURS", 72)

# --- Email / SMS ----------------------------------------------------------------------------
# Django 6.1 configures email through MAILERS; the environment keeps Django's classic names.
# The default prints emails readably (UTF-8, 8bit: links and times unbroken).
_email_backend = env_str("EMAIL_BACKEND", "notifications.console_email.ConsoleEmailBackend")
_email_options: dict = {}
if _email_backend.endswith("filebased.EmailBackend"):
    _email_options["file_path"] = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
elif _email_backend.endswith("smtp.EmailBackend"):
    _email_options.update(
        host=env_str("EMAIL_HOST", "localhost"),
        port=env_int("EMAIL_PORT", 25),
        username=env_str("EMAIL_HOST_USER"),
        password=env_str("EMAIL_HOST_PASSWORD"),
        use_tls=env_bool("EMAIL_USE_TLS", False),
        # Bounded well below the outbox's stale-claim age (notifications.delivery), so a
        # hung SMTP send can never be reclaimed by another dispatcher and sent twice.
        timeout=30,
    )
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Slotwise <no-reply@slotwise.local>")
# Email through a provider's HTTP API: EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend
# (mailgun, postmark, ...) with its keys in ANYMAIL; see README "Email and SMS providers".
_anymail_env = {
    name: env_str(name)
    for name in (
        "MAILGUN_API_KEY",
        "MAILGUN_SENDER_DOMAIN",
        "MAILGUN_API_URL",
        "POSTMARK_SERVER_TOKEN",
        "POSTMARK_API_URL",
    )
}
# Only what is set: anymail takes a blank key for a real one and would send it.
ANYMAIL = {name: value for name, value in _anymail_env.items() if value}
# Bounded like SMTP's timeout above, for the same reason.
ANYMAIL["REQUESTS_TIMEOUT"] = 30
# The console SMS backend only prints: in production, where staff often have only a phone
# number, completion codes would never arrive. So a production start needs SMS_BACKEND set
# explicitly (notifications.sms.TwilioSmsBackend, or the console one on purpose for a demo).
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.sms.ConsoleSmsBackend")
if not EMBEDDED and not env_str("SMS_BACKEND"):
    raise ImproperlyConfigured(
        "SMS_BACKEND must be set when DATABASE_URL is set: the console backend only prints "
        "messages (notifications.sms.TwilioSmsBackend sends them)."
    )
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
# The sender: a Twilio phone number, or a Messaging Service (which picks the number).
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
# A fake or proxy can stand in for Twilio's API (black-box runs, tests).
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "https://api.twilio.com")
# Bounded well below the outbox's stale-claim age, like SMTP's timeout.
TWILIO_TIMEOUT_SECONDS = env_int("TWILIO_TIMEOUT_SECONDS", 10)
if SMS_BACKEND.endswith(".TwilioSmsBackend") and not (
    TWILIO_ACCOUNT_SID
    and TWILIO_AUTH_TOKEN
    and (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID)
):
    raise ImproperlyConfigured(
        "The Twilio SMS backend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
        "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID."
    )

# --- Security (production) ------------------------------------------------------------------
if not DEBUG and not EMBEDDED:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)

# --- Logs, metrics, error tracking ------------------------------------------------------------
# One line per event. "json" (python-json-logger) for log shippers, the default outside the
# embedded mode; "text" for people, the embedded default. Both carry the request id
# (common.request_id) of the request or Celery task that logged.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if EMBEDDED else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.request_id.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "message", "request_id"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # ISO 8601 in UTC, like the API's timestamps.
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
# One INFO line per request (monitoring.requests: view, status, duration, request id);
# false drops just those (the access log of a proxy may already have them).
if not env_bool("LOG_REQUESTS", True):
    LOGGING["loggers"]["monitoring.requests"] = {"level": "WARNING"}

# GET /metrics (monitoring): scrapers send "Authorization: Bearer <METRICS_TOKEN>". Outside
# the embedded mode the endpoint refuses every scrape while no token is set.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_OPEN = EMBEDDED and not METRICS_TOKEN

# Error tracking: sentry-sdk with its Django and Celery integrations when SENTRY_DSN is set
# (config.sentry); nothing is imported or sent without it.
SENTRY_DSN = env_str("SENTRY_DSN")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "embedded" if EMBEDDED else "production")
SENTRY_TRACES_SAMPLE_RATE = float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0"))
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
