"""The settings modules, as in cookiecutter-django; each process names its own.

- `local`: development, the embedded default `make run` uses: DEBUG on, SQLite under
  `var/`, tasks in-process unless REDIS_URL names a broker. `manage.py` and the Celery
  app default to it.
- `production`: DEBUG off, the hardening `check --deploy` asks for, and the variables
  a deployment must set (SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL) refused when missing.
  wsgi.py and asgi.py default to it; the Docker image, docker/entrypoint.sh and the
  compose file set it for every role.
- `test`: what the test suite runs with (pyproject.toml), never reading a `.env`.

All three start from `base`, which reads the environment; DJANGO_SETTINGS_MODULE picks
one, and nothing switches on DEBUG.
"""

import os

from django.core.exceptions import ImproperlyConfigured

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    # What every process used before the split: say what to use instead of loading nothing.
    raise ImproperlyConfigured(
        f"DJANGO_SETTINGS_MODULE={__name__} is a package now: use {__name__}.local "
        f"(development), {__name__}.production or {__name__}.test."
    )
