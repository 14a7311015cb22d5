"""The login throttle: one count per client across workers, and never a 500 from its cache."""

import pytest

from operators_app.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
WRONG = {"username": "alice", "password": "guess"}


@pytest.fixture(autouse=True)
def alice(db):
    return OperatorFactory(user__username="alice")


def test_a_login_goes_through_when_the_throttle_cache_is_unreachable(settings, api_client):
    from socket import socket

    with socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "servicedesk.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }

    response = api_client.post(TOKEN, WRONG, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


def test_behind_a_proxy_each_client_address_has_its_own_budget(settings, api_client):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def attempt(client_ip: str) -> int:
        return api_client.post(
            TOKEN, WRONG, format="json", HTTP_X_FORWARDED_FOR=client_ip
        ).status_code

    first = [attempt("203.0.113.7") for _ in range(11)]
    other = attempt("198.51.100.9")

    assert first == [400] * 10 + [429]
    assert other == 400


@pytest.mark.redis
def test_the_count_lives_in_redis_so_every_worker_shares_it(redis_cache, api_client):
    codes = [api_client.post(TOKEN, WRONG, format="json").status_code for _ in range(11)]

    assert codes == [400] * 10 + [429]
    assert redis_cache._cache.get_client().keys(f"*{redis_cache.key_prefix}*")
