"""Development: the embedded default `make run` serves (`manage.py` picks this module).

With nothing set: DEBUG on, SQLite under `var/`, Celery tasks run in the web process
right after commit (no worker, no broker), mail written to `var/mail/`, a fixed
development SECRET_KEY. Any variable of `.env.sample` still applies, so the same module
runs against PostgreSQL, Redis (then with a Celery worker) and a real SMTP server.
"""

from servicedesk.settings.base import *  # noqa: F403
from servicedesk.settings.base import env

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-servicedesk-local-development-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
