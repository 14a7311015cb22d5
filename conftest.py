"""Shared fixtures and the rules for tests that need real PostgreSQL, Redis or processes.

A test marked `postgres`, `redis` or `e2e` skips with a reason when what it needs is
absent; under CI=true it fails instead, so CI can never pass by skipping.
"""

import os
import socket
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
# indexes); the test database is built from the models (--no-migrations).
POSTGRES_ONLY_SQL = [
    ("requests_app.migrations.0003_workflow_events_first_response_list_indexes", "TRIGRAM_SQL"),
    ("messages_app.migrations.0004_notes_canned_replies_search", "SEARCH_SQL"),
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
def _cache_cleared():
    """The test settings keep the cache in process memory, which outlives a test: nothing
    one test cached (throttle counts, request counts) may reach the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def redis_cache(settings):
    """The production cache backend on REDIS_URL, under a fresh key prefix: the test never
    clears the server's data, and its own keys are deleted afterwards."""
    from django.core.cache import caches

    from servicedesk.settings.base import redis_cache as redis_cache_settings

    settings.CACHES = {
        "default": redis_cache_settings(settings.REDIS_URL, key_prefix=f"test-{uuid.uuid4().hex}")
    }
    cache = caches["default"]
    yield cache
    cache.delete_pattern("*")


@pytest.fixture
def unreachable_redis_cache(settings):
    """The production cache backend, on a loopback port nothing listens on: Redis down."""
    from django.core.cache import caches

    from servicedesk.settings.base import redis_cache as redis_cache_settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {"default": redis_cache_settings(f"redis://127.0.0.1:{port}/0")}
    return caches["default"]


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
def _broker_not_paused(monkeypatch):
    """A publish one test saw fail must not pause publishing in the next."""
    monkeypatch.setattr("messages_app.outbound.outbox._broker_paused_until", 0.0)


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
