"""Settings, read from the environment (ARCHITECTURE.md §5).

`DJANGO_ENV` is `dev`, `test` or `production`. Production refuses to start on a dev
secret or a missing required variable; `manage.py` prints that as one line.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from billing_project import SDK_VERSION
from billing_project.observability.logs import configure_structlog, logging_config

# Lets admin.ModelAdmin[Model] and friends be subscripted at run time (typed admin).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="dev")
if DJANGO_ENV not in {"dev", "test", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be dev, test or production, not {DJANGO_ENV!r}")
IS_PRODUCTION = DJANGO_ENV == "production"

# `make run` / `make test` write the URLs of the embedded servers here, so that a plain
# `manage.py shell` in another terminal finds the same database. Never read in production.
if not IS_PRODUCTION and (LOCAL_DIR / "env").exists():
    environ.Env.read_env(LOCAL_DIR / "env", overwrite=False)

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
DEV_JWT_SECRET = "dev-platform-jwt-secret-not-for-production-use-000000"

_required_in_production = ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "BASE_DOMAIN"]
if IS_PRODUCTION:
    _missing = [name for name in _required_in_production if not env.str(name, default="")]
    if not any(
        env.str(name, default="")
        for name in ("PLATFORM_JWT_SECRET", "PLATFORM_JWT_PUBLIC_KEY", "PLATFORM_JWT_JWKS_URL")
    ):
        _missing.append("PLATFORM_JWT_SECRET, PLATFORM_JWT_PUBLIC_KEY or PLATFORM_JWT_JWKS_URL")
    if _missing:
        raise ImproperlyConfigured(f"DJANGO_ENV=production needs {', '.join(_missing)} to be set")
    if env.str("SECRET_KEY") == DEV_SECRET_KEY or len(env.str("SECRET_KEY")) < 50:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses the dev SECRET_KEY (use 50+ random characters)")
    if env.str("PLATFORM_JWT_SECRET", default="") == DEV_JWT_SECRET:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses the dev PLATFORM_JWT_SECRET")

SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "dev")

BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}", *env.list("EXTRA_ALLOWED_HOSTS", default=[])]
if not IS_PRODUCTION:
    ALLOWED_HOSTS += ["127.0.0.1", "testserver", ".testserver"]

# --- Applications -------------------------------------------------------------------------
# apps.tenants comes first so that its migrate/migrate_schemas commands (which also migrate
# the template schema, django-tenants #1154) take precedence over django-tenants' own.
SHARED_APPS = [
    "apps.tenants",
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.core",
    "billing_project",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "simple_history",
    "apps.events",
    "apps.accounts",
    "apps.invoices",
    "apps.payments",
    "apps.notifications",
    "apps.dunning",
    "apps.privacy",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New tenants are cloned from this schema (fast with hundreds of tenants); our
# migrate_schemas keeps it migrated.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

MIDDLEWARE = [
    "apps.core.api.middleware.ApiEdgeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.tenants.middleware.TenantMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "apps.tenants.middleware.SuspendedTenantMiddleware",
    "apps.tenants.api.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "billing_project.urls"
PUBLIC_SCHEMA_URLCONF = "billing_project.urls_public"
WSGI_APPLICATION = "billing_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Data stores --------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/billing"),
}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default="test_billing")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Prefix every key with the tenant's schema: nothing cached in one tenant is
        # visible in another.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "KEY_PREFIX": f"billing-{DJANGO_ENV}",
    }
}

# --- Sessions and security ----------------------------------------------------------------
# No SESSION_COOKIE_DOMAIN: a session cookie belongs to the one host (tenant) that set it,
# and sessions live in each tenant's own schema.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 10
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS",
    default=[
        f"{scheme}://{host}{port}"
        for scheme in ("http", "https")
        for host in (BASE_DOMAIN, f"*.{BASE_DOMAIN}")
        for port in ("", ":8000")
    ],
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if DJANGO_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = 60 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "apps.dunning.*": {"queue": "dunning"},
    "apps.events.*": {"queue": "webhooks"},
    "apps.notifications.tasks.send_high_priority*": {"queue": "notifications-high"},
    "apps.notifications.*": {"queue": "notifications"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# django-celery-beat's DatabaseScheduler, touching beat's liveness heartbeat on every tick.
CELERY_BEAT_SCHEDULER = "billing_project.observability.beat:HeartbeatScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"}},
}

# --- Platform integration -----------------------------------------------------------------
PLATFORM_JWT_SECRET = env.str("PLATFORM_JWT_SECRET", default="" if IS_PRODUCTION else DEV_JWT_SECRET)
PLATFORM_JWT_PUBLIC_KEY = env.str("PLATFORM_JWT_PUBLIC_KEY", default="")
PLATFORM_JWT_ISSUER = env.str("PLATFORM_JWT_ISSUER", default="platform")
PLATFORM_JWT_AUDIENCE = env.str("PLATFORM_JWT_AUDIENCE", default="billing")
PLATFORM_JWT_SINGLE_USE = env.bool("PLATFORM_JWT_SINGLE_USE", default=False)
PLATFORM_WEBHOOK_URL = env.str("PLATFORM_WEBHOOK_URL", default="")
PLATFORM_WEBHOOK_SECRET = env.str("PLATFORM_WEBHOOK_SECRET", default="")
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=not IS_PRODUCTION)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1000/min")

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@localhost")
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="")
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)

DEFAULT_NOT_FOUND_TENANT_VIEW = "apps.tenants.views.unknown_host"

# --- API (ARCHITECTURE.md §6) ---------------------------------------------------------------
# Longest accepted platform token lifetime (exp - iat), in seconds.
PLATFORM_JWT_MAX_LIFETIME = env.int("PLATFORM_JWT_MAX_LIFETIME", default=600)
# Stored idempotent responses are kept this long (never less than 24 h) ...
IDEMPOTENCY_KEY_RETENTION_HOURS = env.int("IDEMPOTENCY_KEY_RETENTION_HOURS", default=24)
# ... and a duplicate of a request still in flight waits this long for it before a 409.
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=10.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.tenants.api.authentication.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.api.permissions.BillingAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.api.throttling.CredentialRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.negotiation.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.api.negotiation.LenientContentNegotiation",
    "EXCEPTION_HANDLER": "apps.core.api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "STRICT_JSON": True,
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DotMac Billing API",
    "DESCRIPTION": (
        "The billing back office's platform API. Authenticate with `Authorization: Bearer <platform JWT>` "
        "or `Bearer bk_...` (a tenant API key); the tenant comes from the credential. Every POST takes an "
        "`Idempotency-Key`. Errors are `application/problem+json` (RFC 9457) with field `errors`. "
        "Lists paginate by cursor (`next` / `previous`, `?limit=` up to 500). Amounts are strings."
    ),
    "VERSION": SDK_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayRequestDuration": True},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.api.schema.add_shared_api_parts",
    ],
}

# django-tenants otherwise sends `SET search_path` before every query: 28 of the 59 round trips
# of an API payment (bench.api_load). It still sets it after every schema switch, rollback and
# savepoint rollback (those undo a SET), so the schema is always the selected one.
TENANT_LIMIT_SET_CALLS = env.bool("TENANT_LIMIT_SET_CALLS", default=True)

CELERY_BEAT_SCHEDULE = globals().get("CELERY_BEAT_SCHEDULE", {})
CELERY_BEAT_SCHEDULE["tenants.prune-idempotency-records"] = {
    "task": "apps.tenants.tasks.prune_idempotency_records",
    "schedule": 60.0 * 60,
}

# --- Events and webhooks (apps.events) ------------------------------------------------------
# Publishers of committed events (apps/events/publishers.py): webhooks always, a log in dev.
EVENT_PUBLISHERS = env.list(
    "EVENT_PUBLISHERS",
    default=["apps.events.publishers.WebhookPublisher"]
    + (["apps.events.publishers.LogPublisher"] if DJANGO_ENV == "dev" else []),
)
# publish() checks `data` against the catalogue's schema outside production.
EVENT_VALIDATE_PAYLOADS = env.bool("EVENT_VALIDATE_PAYLOADS", default=not IS_PRODUCTION)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
WEBHOOK_RESPONSE_MAX_BYTES = env.int("WEBHOOK_RESPONSE_MAX_BYTES", default=64 * 1024)
# Seconds between attempts (ARCHITECTURE.md §4): 10 attempts over about 3.3 days, +-10 % jitter.
WEBHOOK_RETRY_SCHEDULE = [
    int(v)
    for v in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=["30", "300", "1800", "7200", "18000", "36000", "50400", "72000", "86400"]
    )
]
WEBHOOK_MAX_RETRY_AFTER = env.int("WEBHOOK_MAX_RETRY_AFTER", default=24 * 60 * 60)
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=3)
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
WEBHOOK_SWEEP_SECONDS = env.float("WEBHOOK_SWEEP_SECONDS", default=15.0)
WEBHOOK_SWEEP_GRACE_SECONDS = env.float("WEBHOOK_SWEEP_GRACE_SECONDS", default=10.0)
WEBHOOK_MAX_BATCH_SIZE = 100
WEBHOOK_MAX_REPLAY = 10_000
# A tenant's drain task claims this many due deliveries per round (one UPDATE ... SKIP LOCKED),
# POSTs them WEBHOOK_SEND_CONCURRENCY at a time per worker process; up to
# WEBHOOK_DRAINS_PER_TENANT drains work on one tenant's backlog at once.
WEBHOOK_DELIVERIES_PER_TASK = env.int("WEBHOOK_DELIVERIES_PER_TASK", default=100)
WEBHOOK_SEND_CONCURRENCY = env.int("WEBHOOK_SEND_CONCURRENCY", default=8)
WEBHOOK_DRAINS_PER_TENANT = env.int("WEBHOOK_DRAINS_PER_TENANT", default=2)
CELERY_BEAT_SCHEDULE["events.sweep"] = {"task": "apps.events.tasks.sweep", "schedule": WEBHOOK_SWEEP_SECONDS}
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"].append("apps.events.schema.add_webhooks")  # type: ignore[attr-defined]
# --- Notifications (apps.notifications) ---------------------------------------------------
# Email: EMAIL_URL (smtp://, consolemail://) picks Django's backend; EMAIL_BACKEND may name an
# anymail ESP instead (anymail.backends.postmark.EmailBackend), configured by ANYMAIL_* variables
# (ANYMAIL_POSTMARK_SERVER_TOKEN, ANYMAIL_POSTMARK_API_URL, ANYMAIL_WEBHOOK_SECRET, ...).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=globals()["EMAIL_BACKEND"])
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in env.ENVIRON.items() if name.startswith("ANYMAIL_")}
# Where providers call back (Twilio status): "{host}" is the tenant's host.
NOTIFICATIONS_CALLBACK_BASE_URL = env.str(
    "NOTIFICATIONS_CALLBACK_BASE_URL", default="https://{host}" if IS_PRODUCTION else "http://{host}:8000"
)
# SMS is not sent in these hours of the account's own timezone (HH:MM-HH:MM); deferred, not dropped.
NOTIFICATIONS_SMS_QUIET_HOURS = env.str("NOTIFICATIONS_SMS_QUIET_HOURS", default="21:00-08:00")
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
NOTIFICATIONS_RETRY_BACKOFF_SECONDS = env.int("NOTIFICATIONS_RETRY_BACKOFF_SECONDS", default=30)
PUSH_RELAY_URL = env.str("PUSH_RELAY_URL", default="")
PUSH_RELAY_SECRET = env.str("PUSH_RELAY_SECRET", default="")
CELERY_TASK_ROUTES["apps.notifications.tasks.send_high_priority*"] = {"queue": "notifications-high"}
# Customer notices for committed events are recorded by a per-tenant drain (apps.notifications.outbox):
# this many events per transaction, this many transactions before the drain lets other tenants go
# first. Recording precedes every notice, urgent ones too: it runs on the urgent queue.
NOTICE_DRAIN_BATCH = 200
NOTICE_DRAIN_ROUNDS = 10
CELERY_TASK_ROUTES["apps.notifications.tasks.record_notices"] = {"queue": "notifications-high"}
CELERY_BEAT_SCHEDULE["notifications.dispatch-due"] = {
    "task": "apps.notifications.tasks.dispatch_due_everywhere",
    "schedule": 30.0,
}

# --- Observability (apps.core.metrics, billing_project.observability) -------------------------
# /metrics: database gauges are read at most this often per process (seconds), each read and each
# tenant's refresh bounded by a statement_timeout (milliseconds).
METRICS_CACHE_SECONDS = env.float("METRICS_CACHE_SECONDS", default=10.0)
METRICS_DB_TIMEOUT_MS = env.int("METRICS_DB_TIMEOUT_MS", default=5000)
# The gauges are read from a summary table in public (one statement per scrape) that beat
# refreshes every METRICS_REFRESH_SECONDS, METRICS_REFRESH_BATCH_SIZE tenants per task.
METRICS_REFRESH_SECONDS = env.float("METRICS_REFRESH_SECONDS", default=30.0)
METRICS_REFRESH_BATCH_SIZE = env.int("METRICS_REFRESH_BATCH_SIZE", default=25)
CELERY_BEAT_SCHEDULE["metrics.refresh-summaries"] = {
    "task": "apps.tenants.tasks.refresh_metrics_summaries",
    "schedule": METRICS_REFRESH_SECONDS,
    "options": {"queue": "default"},
}
# `tenant` label on business metrics: `none` (default; per-tenant detail from SQL and logs) or
# `all`, optionally limited to an allow-list (others are counted as tenant="other"). apps.core.metrics
# reads the same variables at import time (label names are fixed when metrics are created).
METRICS_TENANT_LABEL = env.str("METRICS_TENANT_LABEL", default="none").strip().lower()
if METRICS_TENANT_LABEL not in {"all", "none"}:
    raise ImproperlyConfigured(f"METRICS_TENANT_LABEL must be all or none, not {METRICS_TENANT_LABEL!r}")
METRICS_TENANT_ALLOWLIST = env.list("METRICS_TENANT_ALLOWLIST", default=[])
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# /health/ready: tenant schemas whose migrations are checked per probe, and the outbox lag
# (oldest undelivered event, seconds) above which the instance reports not ready.
HEALTH_MIGRATION_SAMPLE = env.int("HEALTH_MIGRATION_SAMPLE", default=3)
HEALTH_OUTBOX_LAG_SECONDS = env.float("HEALTH_OUTBOX_LAG_SECONDS", default=900.0)
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=3.0)
# Celery worker liveness: the worker touches this file every CELERY_HEARTBEAT_SECONDS, beat touches
# "<file>-beat" every tick (billing_project.observability.heartbeat is the probe).
CELERY_HEARTBEAT_FILE = env.str("CELERY_HEARTBEAT_FILE", default=str(LOCAL_DIR / "celery-heartbeat"))
CELERY_HEARTBEAT_SECONDS = env.float("CELERY_HEARTBEAT_SECONDS", default=10.0)
# Logs: JSON lines in production (and whenever LOG_FORMAT=json), readable lines in dev.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if IS_PRODUCTION else "console")
if LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or console, not {LOG_FORMAT!r}")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
configure_structlog()
SHARED_APPS.append("django_structlog")
INSTALLED_APPS.append("django_structlog")
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Request metrics first (they time everything), then the probes, answered before host checks;
# request logging context once TenantMiddleware has picked the tenant.
MIDDLEWARE.insert(0, "billing_project.observability.middleware.RequestMetricsMiddleware")
MIDDLEWARE.insert(1, "billing_project.observability.middleware.ProbeMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("apps.tenants.middleware.TenantMiddleware") + 1, "django_structlog.middlewares.RequestMiddleware"
)
# A firewalled database must fail readiness within seconds, not hang the probe.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=10))

# --- Platform deploy, gateway and data protection (#11) ------------------------------------
# The platform's JWK Set: a token naming a `kid` is verified with that key (key rotation);
# tokens without `kid` keep using PLATFORM_JWT_SECRET / PLATFORM_JWT_PUBLIC_KEY.
PLATFORM_JWT_JWKS_URL = env.str("PLATFORM_JWT_JWKS_URL", default="")
PLATFORM_JWT_JWKS_CACHE_SECONDS = env.float("PLATFORM_JWT_JWKS_CACHE_SECONDS", default=300.0)
# No full e-mail address, phone or card number reaches a log handler (apps/core/privacy.py).
_logging: dict = LOGGING
_logging.setdefault("filters", {})["mask_personal_data"] = {"()": "apps.core.privacy.MaskingFilter"}
for _handler in _logging.get("handlers", {}).values():
    _handler.setdefault("filters", []).append("mask_personal_data")

# --- Dunning (apps.dunning) ---------------------------------------------------------------
# Hourly: each tenant's run starts within the hour after its local midnight (its timezone
# defines "today"); a day already run is skipped. Editable in the admin (django-celery-beat).
CELERY_BEAT_SCHEDULE["dunning.daily"] = {
    "task": "apps.dunning.tasks.daily",
    "schedule": crontab(minute=5),
    "options": {"queue": "dunning"},
}
# Accounts per chunk task: one transaction each, bulk writes, events in one round trip.
DUNNING_CHUNK_SIZE = env.int("DUNNING_CHUNK_SIZE", default=300)

# --- Tenant-safe migrations (safe_migrate) --------------------------------------------------
# Django's migrate with a per-migration hook for safe_migrate's timeouts; plain otherwise.
TENANT_BASE_MIGRATE_COMMAND = "apps.tenants.migrating.migrate_command.MigrateCommand"
# Where safe_migrate writes its per-schema pg_dump backups unless --backup-dir says otherwise.
MIGRATION_BACKUP_DIR = env.str("MIGRATION_BACKUP_DIR", default=str(LOCAL_DIR / "migration-backups"))
