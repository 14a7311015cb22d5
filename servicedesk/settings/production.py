"""Production: what wsgi.py, asgi.py, the Docker image and docker/entrypoint.sh run.

DEBUG is always off (DEBUG=true in the environment refuses to start: it would
show tracebacks and settings to anyone), and the variables a deployment must choose
are required: a missing or guessable SECRET_KEY, no ALLOWED_HOSTS or no DATABASE_URL
stop the process with the reason instead of serving on a default. REDIS_URL stays
optional: without it Celery tasks run in the web process (a single-host trial).
"""

from django.core.exceptions import ImproperlyConfigured

from servicedesk.logging import build_logging_config
from servicedesk.settings.base import *  # noqa: F403
from servicedesk.settings.base import MIDDLEWARE, STORAGES, env

# GENERAL
# ------------------------------------------------------------------------------
if env.bool("DEBUG", default=False):
    raise ImproperlyConfigured(
        "DEBUG=true with production settings: unset it, or run development with "
        "DJANGO_SETTINGS_MODULE=servicedesk.settings.local."
    )
DEBUG = False


def _required(name: str, hint: str) -> str:
    value: str = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set with production settings: {hint}")
    return value


SECRET_KEY = _required("SECRET_KEY", "python -c 'import secrets; print(secrets.token_urlsafe(64))'")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
    # A production process must never sign sessions or tokens with a guessable key.
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters with production "
        "settings; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
_required("ALLOWED_HOSTS", "the host names the service answers to, e.g. helpdesk.example.com")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# DATABASES
# ------------------------------------------------------------------------------
# base.py parsed it; an unset one would have meant a SQLite file inside the container.
_required("DATABASE_URL", "e.g. postgres://servicedesk:password@db:5432/servicedesk")

# MIDDLEWARE
# ------------------------------------------------------------------------------
# Without nginx in front (a single container, a quick trial) gunicorn serves the
# collected static files itself; nginx serves them first when it is there.
_after = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
MIDDLEWARE = [
    *MIDDLEWARE[:_after],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[_after:],
]

# STATIC
# ------------------------------------------------------------------------------
# Hashed names from the manifest `collectstatic` writes (wsgi.py refuses to serve
# without it).
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# SECURITY
# ------------------------------------------------------------------------------
# No SECURE_PROXY_SSL_HEADER on purpose: Django would believe X-Forwarded-Proto from
# anyone who reaches gunicorn. gunicorn sets the request's scheme from that header
# only when the peer is in FORWARDED_ALLOW_IPS (nginx, which overwrites the client's
# header with its own $scheme), so Django trusts the proxy and nobody else.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# LOGGING
# ------------------------------------------------------------------------------
# One JSON object per line unless LOG_FORMAT=text.
LOG_FORMAT = env.str("LOG_FORMAT", default="json").lower()
LOGGING = build_logging_config(json_format=LOG_FORMAT == "json", level=LOG_LEVEL)  # noqa: F405
