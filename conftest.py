"""Shared fixtures and the rules for tests that need real PostgreSQL, Redis or processes.

A test marked `postgres`, `redis` or `e2e` skips with a reason when what it needs is
absent; under CI=true it fails instead, so CI can never pass by skipping.
"""

import os
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from operators_app.tests.factories import OperatorFactory, UserFactory

IS_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip a test whose dependency is absent, or fail it under CI."""
    if IS_CI:
        pytest.fail(f"CI requires this test to run: {reason}", pytrace=False)
    pytest.skip(reason)


def redis_available() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


# What migrations create on PostgreSQL only, outside the models (full-text and trigram
# indexes, the per-request mail words and their triggers), in the order the migrations
# apply it; the test database is built from the models (--no-migrations).
POSTGRES_ONLY_SQL = [
    ("requests_app.migrations.0003_workflow_events_first_response_list_indexes", "TRIGRAM_SQL"),
    ("messages_app.migrations.0004_notes_canned_replies_search", "SEARCH_SQL"),
    ("requests_app.migrations.0006_mail_words_per_request", "MAIL_WORDS_SQL"),
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from importlib import import_module

    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for module, name in POSTGRES_ONLY_SQL:
                    for statement in getattr(import_module(module), name):
                        cursor.execute(statement)


def pytest_runtest_setup(item):
    engine = settings.DATABASES["default"]["ENGINE"]
    if item.get_closest_marker("postgres") and engine != "django.db.backends.postgresql":
        missing("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis") and not redis_available():
        missing("needs Redis: run with REDIS_URL=redis://... and a server listening")


@pytest.fixture(autouse=True)
def _cache_in_process(settings):
    """Tests count throttles in process memory: clearing the cache must never flush a
    developer's or CI's Redis. tests that need the Redis cache configure it themselves."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Process memory outlives a test: nothing one test cached (throttle counts, request
    # counts) may reach the next.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def redis_cache(settings):
    """The production cache backend on REDIS_URL, under a fresh key prefix: the test never
    clears the server's data, and its own keys are deleted afterwards."""
    from django.core.cache import caches

    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "servicedesk.cache.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    cache = caches["default"]
    yield cache
    client = cache._cache.get_client()
    keys = client.keys(f"*{prefix}*")
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _attachments_in_tmp(settings, tmp_path):
    """Stored files (attachments, raw mail) go to the test's own folder, never to var/."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }


@pytest.fixture(autouse=True)
def _celery_tasks_in_process():
    """Tasks run in the test's process even when REDIS_URL names a broker (CI's second pass):
    tests see the mail a task sends. System tests in e2e/ run real workers instead."""
    from servicedesk.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _broker_not_paused(monkeypatch):
    """A publish one test saw fail must not pause publishing in the next."""
    monkeypatch.setattr("messages_app.outbound.outbox._broker_paused_until", 0.0)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Every factory user hashes a password: PBKDF2 at full strength made tests 30x slower."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def operator(db):
    return OperatorFactory()


@pytest.fixture
def other_operator(db):
    return OperatorFactory()


@pytest.fixture
def staff_operator(db):
    return OperatorFactory(user__is_staff=True)


def _token_client(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def operator_client(operator) -> APIClient:
    return _token_client(operator.user)


@pytest.fixture
def staff_client(staff_operator) -> APIClient:
    return _token_client(staff_operator.user)


@pytest.fixture
def user_client(db) -> APIClient:
    """An authenticated user with no operator profile."""
    return _token_client(UserFactory())
