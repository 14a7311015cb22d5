"""The cache on Redis (django-redis, configured in settings): one connection pool per
server, and an outage read as a miss instead of an error."""

import threading

import pytest
from django.core.cache import caches


@pytest.mark.redis
def test_the_backend_reads_and_writes_like_djangos(redis_cache):
    redis_cache.set("a", (1, "x"), timeout=60)
    assert redis_cache.add("n", 1)
    assert not redis_cache.add("n", 5)

    assert redis_cache.get_many(["a", "n", "missing"]) == {"a": (1, "x"), "n": 1}
    assert redis_cache.incr("n") == 2
    redis_cache.delete("a")
    assert redis_cache.get("a") is None


@pytest.mark.redis
def test_every_thread_shares_one_connection_pool(redis_cache):
    redis_cache.set("a", 1)
    pools = [redis_cache.client.get_client(write=True).connection_pool]

    def in_another_thread():
        # Django gives each thread its own backend object.
        other = caches["default"]
        assert other is not redis_cache
        assert other.get("a") == 1
        pools.append(other.client.get_client(write=False).connection_pool)

    thread = threading.Thread(target=in_another_thread)
    thread.start()
    thread.join()

    assert len(pools) == 2
    assert pools[0] is pools[1]


def test_an_unreachable_redis_reads_as_an_empty_cache(unreachable_redis_cache, caplog):
    cache = unreachable_redis_cache

    cache.set("a", 1)
    assert cache.add("n", 1) is None
    assert cache.get("a") is None
    assert cache.get("a", default=0) == 0
    assert cache.get_many(["a", "n"]) == {}
    cache.delete("a")

    # Each miss is logged with its cause, so an outage shows in the logs.
    assert any("Exception ignored" in record.getMessage() for record in caplog.records)
