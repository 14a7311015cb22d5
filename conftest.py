"""Shared fixtures and the rules for tests that need real PostgreSQL, Redis or processes.

A test marked `postgres`, `redis` or `e2e` skips with a reason when what it needs is
absent; under CI=true it fails instead, so CI can never pass by skipping. The helpers
these fixtures use live in the `testing` package.
"""

import socket
import uuid

import hypothesis
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from operators_app.tests.factories import OperatorFactory, UserFactory
from testing.clients import token_client
from testing.databases import add_postgres_only_sql
from testing.environment import IS_CI, missing, redis_available

# Property tests explore new examples on developers' machines (remembered in .hypothesis/);
# under CI they run the same examples every time, so a red run is red again on a rerun.
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if IS_CI:
    hypothesis.settings.load_profile("ci")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        add_postgres_only_sql(connection)


def pytest_runtest_setup(item):
    engine = settings.DATABASES["default"]["ENGINE"]
    if item.get_closest_marker("postgres") and engine != "django.db.backends.postgresql":
        missing("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis") and not redis_available(settings.REDIS_URL):
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


@pytest.fixture
def operator_client(operator) -> APIClient:
    return token_client(operator.user)


@pytest.fixture
def staff_client(staff_operator) -> APIClient:
    return token_client(staff_operator.user)


@pytest.fixture
def user_client(db) -> APIClient:
    """An authenticated user with no operator profile."""
    return token_client(UserFactory())


@pytest.fixture
def operator_admin_client(client, db):
    """Django's test client logged in to the admin as a superuser with an operator profile
    (`client.operator`)."""
    operator = OperatorFactory(user__is_staff=True, user__is_superuser=True)
    client.force_login(operator.user)
    client.operator = operator
    return client
