"""What the test suite runs with (pyproject.toml): the embedded default, made fast and
deterministic, and deaf to a developer's `.env`.

A local `.env` (its database, broker, mail server, admin) must change nothing, in this
process or in the processes tests start, which inherit READ_DOT_ENV=false from here.
DATABASE_URL and REDIS_URL still come from the environment: CI's second pass runs the
suite on PostgreSQL with Redis.
"""

import os

os.environ["READ_DOT_ENV"] = "false"

from servicedesk.settings.base import *  # noqa: F403

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = False
SECRET_KEY = "django-insecure-servicedesk-tests-only"  # noqa: S105
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

# CACHES
# ------------------------------------------------------------------------------
# Throttles and request counts in process memory: clearing the cache between tests must
# never flush a developer's or CI's Redis. Tests of the Redis cache configure it
# themselves (the `redis_cache` fixture).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# PASSWORDS
# ------------------------------------------------------------------------------
# Every factory user hashes a password: PBKDF2 at full strength made tests 30x slower.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# CELERY
# ------------------------------------------------------------------------------
# Tasks run in the test's process even when REDIS_URL names a broker: tests see the mail
# a task sends. System tests in e2e/ start real workers instead.
CELERY_TASK_ALWAYS_EAGER = True
