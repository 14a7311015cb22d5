"""The Redis cache backend: Django's, with one client per connection pool."""

import pytest

pytestmark = pytest.mark.redis


def test_the_backend_reads_and_writes_like_djangos(redis_cache):
    redis_cache.set("a", (1, "x"), timeout=60)
    assert redis_cache.add("n", 1)
    assert not redis_cache.add("n", 5)

    assert redis_cache.get_many(["a", "n", "missing"]) == {"a": (1, "x"), "n": 1}
    assert redis_cache.incr("n") == 2
    redis_cache.delete("a")
    assert redis_cache.get("a") is None


def test_every_call_uses_the_same_client(redis_cache):
    redis_cache.set("a", 1)

    first = redis_cache._cache.get_client(write=True)
    redis_cache.get("a")

    assert redis_cache._cache.get_client(write=False) is first
