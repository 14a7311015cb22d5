"""Settings shared by every settings module, read from the environment (and `.env`).

Not a settings module of its own: `local` (development, the embedded default),
`production` and `test` each start from it and set what differs (see the package's
docstring). With nothing set it describes the embedded default: SQLite under `var/`,
Celery tasks in-process, mail written to files under `var/mail/`; `DATABASE_URL`,
`REDIS_URL` and `EMAIL_URL` move each part to a server. Every variable is documented in
`.env.sample`.
"""

import os
from pathlib import Path
from typing import Any

import environ

from servicedesk.logging import build_logging_config

# GENERAL
# ------------------------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# An empty READ_DOT_ENV keeps the default (read it), like every other variable.
if (
    os.environ.get("READ_DOT_ENV", "").strip().lower() not in ("false", "0", "no", "off")
    and (BASE_DIR / ".env").is_file()
):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# An empty variable means "not set": a copied, unedited .env.sample keeps every default.
env.ENVIRON = {name: value for name, value in os.environ.items() if value != ""}

# DEBUG, SECRET_KEY and ALLOWED_HOSTS: in each settings module.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = env.str("TIME_ZONE", default="UTC")
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en-us")
LANGUAGES = [("en", "English"), ("ru", "Russian")]
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# DATABASES
# ------------------------------------------------------------------------------
# The embedded default; production settings require DATABASE_URL.
_SQLITE_DEFAULT = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url("DATABASE_URL", default=_SQLITE_DEFAULT)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers (web workers, the webhook, in-process tasks): WAL lets readers
    # run beside a writer; IMMEDIATE takes the write lock up front so a transaction
    # waits for the busy timeout instead of failing half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;"
                "PRAGMA foreign_keys=ON;"
            ),
        }
    )
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# URLS
# ------------------------------------------------------------------------------
ROOT_URLCONF = "servicedesk.urls"
WSGI_APPLICATION = "servicedesk.wsgi.application"

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_htmx",
]
LOCAL_APPS = [
    "servicedesk",
    "operators_app",
    "requests_app",
    "messages_app",
    "desk_app",
]
# servicedesk first: its `runserver` (which prints where the admin is) replaces the one of
# django.contrib.staticfiles, and management commands go to the first app that has them.
INSTALLED_APPS = ["servicedesk", *DJANGO_APPS, *THIRD_PARTY_APPS]
INSTALLED_APPS += [app for app in LOCAL_APPS if app not in INSTALLED_APPS]

# PASSWORDS
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    # First, so every log line and every answer (redirects included) carries the request
    # id, and the metrics time the whole stack.
    "servicedesk.logging.RequestIdMiddleware",
    "servicedesk.metrics.PrometheusMiddleware",
    # A lost database connection: 503, and a GET retried once on a fresh connection.
    "servicedesk.database.DatabaseRetryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx for the operator console's partial answers.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A query parameter given twice is honoured whole or refused, never half read.
    "servicedesk.queryparams.RepeatedQueryParamsMiddleware",
    # Admin lists answer a filter they cannot run with `?e=1`, not a 500.
    "servicedesk.admin_guard.AdminChangeListGuardMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves hashed names from a manifest (whitenoise).
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# TEMPLATES
# ------------------------------------------------------------------------------
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

# SECURITY
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS redirects, secure cookies and HSTS: production settings.

# CONTENT SECURITY POLICY (django-csp)
# ------------------------------------------------------------------------------
# On every page: scripts only from this site (the admin, Swagger UI and ReDoc load theirs
# from static files), inline styles allowed (Swagger UI and ReDoc set them), workers from
# blob: (ReDoc), no framing, no plugins. A response that sets its own policy (attachment
# downloads) keeps it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# EMAIL
# ------------------------------------------------------------------------------
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
_email_config = env.email_url("EMAIL_URL", default="filemail://")
if _email_config["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    # One `.eml` file per mail, which any mail client opens (Django's writes `.log` files).
    _email_config["EMAIL_BACKEND"] = "messages_app.outbound.mail_backends.EmlFileBackend"
    _email_config.setdefault("EMAIL_FILE_PATH", EMAIL_FILE_PATH)
    if not _email_config.get("EMAIL_FILE_PATH"):
        _email_config["EMAIL_FILE_PATH"] = EMAIL_FILE_PATH
globals().update(_email_config)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@example.com").strip().lower()
SUPPORT_NAME = env.str("SUPPORT_NAME", default="Service Desk")
DEFAULT_FROM_EMAIL = f"{SUPPORT_NAME} <{SUPPORT_EMAIL}>"
SERVER_EMAIL = SUPPORT_EMAIL
# The domain of every Message-ID the service generates.
MESSAGE_ID_DOMAIN = env.str("MESSAGE_ID_DOMAIN", default=SUPPORT_EMAIL.rpartition("@")[2])

# ADMIN
# ------------------------------------------------------------------------------
ADMIN_URL = "admin/"

# OPERATOR CONSOLE
# ------------------------------------------------------------------------------
LOGIN_URL = "desk:login"
LOGIN_REDIRECT_URL = "desk:queue"

# LOGGING
# ------------------------------------------------------------------------------
# Readable text here, JSON lines in production (LOG_FORMAT overrides); every record
# carries the request id; addresses are masked at INFO and above.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="text").lower()
LOGGING = build_logging_config(json_format=LOG_FORMAT == "json", level=LOG_LEVEL)

# MONITORING
# ------------------------------------------------------------------------------
# Who may read /metrics: client addresses or networks (empty: any), and a bearer token
# (empty: none needed). nginx never exposes /metrics; Prometheus scrapes each web
# container directly.
METRICS_ALLOWED_IPS = env.list(
    "METRICS_ALLOWED_IPS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# CELERY
# ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The in-memory broker with a host name: without one kombu warns on every task.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
# Without a broker, tasks run in the calling process right after the transaction
# commits: the laptop setup needs no worker.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when Redis is down: fail fast, the
# periodic re-drive sends what could not be queued.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
    "visibility_timeout": 3600,
}
CELERY_TASK_PUBLISH_RETRY = False
# Beat re-drives the outbox: pending mail whose next attempt is due (a retry after a
# failure, or a row whose task could not be queued while the broker was down).
OUTBOUND_REDRIVE_SECONDS = env.float("OUTBOUND_REDRIVE_SECONDS", default=30)
CELERY_BEAT_SCHEDULE = {
    "redrive-outbox": {
        "task": "messages_app.tasks.redrive_outbox_task",
        "schedule": OUTBOUND_REDRIVE_SECONDS,
        # Runs queued while no worker consumes are dropped after a minute instead of
        # piling up; a worker that is merely slow to pick them up still runs them.
        "options": {"expires": max(OUTBOUND_REDRIVE_SECONDS, 60)},
    },
}

# Beat's schedule file (beat writes it into the working directory otherwise).
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILE", default=str(VAR_DIR / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULER = "servicedesk.celery:PersistentScheduler"

# CACHES
# ------------------------------------------------------------------------------
# Failed logins and large request counts are kept here: in Redis when there is one, so
# every gunicorn worker and host shares them; in process memory on the embedded default.


def redis_cache(location: str, *, key_prefix: str = "servicedesk") -> dict[str, Any]:
    """django-redis on `location`. One connection pool per server and process; a Redis
    outage (refused, timed out, out of memory) reads as a cache miss and is logged, so the
    service goes on without its cache: lists count, logins go unlimited until it returns."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
            "IGNORE_EXCEPTIONS": True,
        },
    }


DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
if REDIS_URL:
    CACHES = {"default": redis_cache(REDIS_URL)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Large counts of the request list (1,000 and more) are cached until the requests change,
# and at most this long (requests_app/counts.py). Needs a cache every process shares:
# 0 (count every time) without Redis.
REQUEST_COUNT_CACHE_SECONDS = env.int("REQUEST_COUNT_CACHE_SECONDS", default=60 if REDIS_URL else 0)

# LOGIN LIMITS
# ------------------------------------------------------------------------------
# Proxies in front of gunicorn (nginx: 1). Limits then key on the client address the
# proxy puts in X-Forwarded-For; with 0 that header is ignored (anyone can write it).
NUM_PROXIES = max(env.int("NUM_PROXIES", default=0), 0)
# Failed logins (token route and admin) per client address and per username: past
# LOGIN_FAILURE_LIMIT within LOGIN_FAILURE_WINDOW_SECONDS the next attempts answer 429.
# django-axes counts them in the cache above (Redis: shared by every worker and host).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=60)
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out attempt before any password is hashed.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "servicedesk.login_limits.LoginAttemptHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = LOGIN_FAILURE_WINDOW_SECONDS / 3600  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "servicedesk.login_limits.client_ip"
AXES_LOCKOUT_CALLABLE = "servicedesk.login_limits.locked_out_response"
AXES_ENABLE_ADMIN = False  # the counts live in the cache, not in axes' tables
AXES_VERBOSE = False

# DJANGO REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's token authentication that refuses malformed keys before the database.
        "operators_app.authentication.TokenAuthentication",
        "operators_app.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "servicedesk.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["servicedesk.api.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "servicedesk.exceptions.exception_handler",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # 0, not None: DRF believes a client's X-Forwarded-For when this is None.
    "NUM_PROXIES": NUM_PROXIES,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "servicedesk API",
    "DESCRIPTION": "A helpdesk that lives in a mailbox: requests, messages, operators, "
    "and the signed webhook that feeds it mail.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# SERVICEDESK
# ------------------------------------------------------------------------------
# Shared secret of the HMAC signature on the inbound webhook; empty disables it (503).
INBOUND_WEBHOOK_SECRET = env.str("INBOUND_WEBHOOK_SECRET", default="")
INBOUND_SIGNATURE_TOLERANCE_SECONDS = 300
INBOUND_MAX_BATCH = env.int("INBOUND_MAX_BATCH", default=100)
# 48 MiB: room for one 30 MiB mail in base64 (API.md, "Large mail").
INBOUND_MAX_BODY_BYTES = env.int("INBOUND_MAX_BODY_BYTES", default=48 * 1024 * 1024)
# Django must let a body of the webhook's cap through so the view can answer 413 itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = INBOUND_MAX_BODY_BYTES + 1024 * 1024
# Automatic mails (acknowledgements) to one address per hour before they are withheld.
AUTO_REPLY_LIMIT_PER_HOUR = env.int("AUTO_REPLY_LIMIT_PER_HOUR", default=5)
# The signature under every operator reply ("-- " goes above it); `{operator_name}` and
# `{support_name}` are filled in, `\n` starts a line; `off`: no signature.
REPLY_SIGNATURE = env.str("REPLY_SIGNATURE", default="{operator_name}\n{support_name}")
REPLY_SIGNATURE = (
    "" if REPLY_SIGNATURE.strip().lower() == "off" else REPLY_SIGNATURE.replace("\\n", "\n")
)
# Outbound delivery: temporary failures (SMTP down, timeouts, 4xx) keep a mail pending
# this long after it was queued; past it the mail is failed and reported. Only permanent
# answers (5xx for the mail or its recipient) fail a mail earlier.
OUTBOUND_GIVE_UP_AFTER_DAYS = env.float("OUTBOUND_GIVE_UP_AFTER_DAYS", default=5)
# Attempts in a row that never report back (the worker died mid-send) before a mail fails.
OUTBOUND_MAX_UNFINISHED_ATTEMPTS = env.int("OUTBOUND_MAX_UNFINISHED_ATTEMPTS", default=3)
# Backoff between attempts: base * 2^(attempt-1) seconds, capped, with jitter.
OUTBOUND_RETRY_BASE_SECONDS = env.float("OUTBOUND_RETRY_BASE_SECONDS", default=60)
OUTBOUND_RETRY_MAX_SECONDS = env.float("OUTBOUND_RETRY_MAX_SECONDS", default=3600)

# ATTACHMENTS
# ------------------------------------------------------------------------------
# Files of mail and the raw RFC 822 bytes of inbound mail live in STORAGES["attachments"]:
# a folder under var/ by default, an S3-compatible bucket when ATTACHMENTS_S3_BUCKET is set.
ATTACHMENTS_ROOT = env.path("ATTACHMENTS_ROOT", default=VAR_DIR / "attachments")
ATTACHMENTS_S3_BUCKET = env.str("ATTACHMENTS_S3_BUCKET", default="")
if ATTACHMENTS_S3_BUCKET:
    STORAGES["attachments"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ATTACHMENTS_S3_BUCKET,
            "location": env.str("ATTACHMENTS_S3_PREFIX", default=""),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
            "signature_version": "s3v4",
            "default_acl": None,
            # Keys are content hashes: the same key always holds the same bytes.
            "file_overwrite": True,
            "querystring_auth": False,
            # Downloads through storage.open() spill to disk past 1 MiB, not to memory.
            "max_memory_size": 1024 * 1024,
        },
    }
else:
    STORAGES["attachments"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(ATTACHMENTS_ROOT), "base_url": "/attachments-not-served/"},
    }
# Per inbound mail: a larger file, or files past the count, are listed as omitted.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=25 * 1024 * 1024)
ATTACHMENT_MAX_COUNT = env.int("ATTACHMENT_MAX_COUNT", default=100)
# Per operator reply: more files answer 400, larger ones (each or together) 413.
OUTBOUND_ATTACHMENT_MAX_COUNT = env.int("OUTBOUND_ATTACHMENT_MAX_COUNT", default=20)
OUTBOUND_ATTACHMENT_MAX_BYTES = env.int("OUTBOUND_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# Files of an upload past this size are written to a temporary file, not held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
