"""Failed-login limits (API.md, Authentication): per client address and per username, on
the token route and the admin login alike, counted in the shared cache by django-axes."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from operators_app.tests.factories import PASSWORD, OperatorFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
ADMIN_LOGIN = "/admin/login/?next=/admin/"
WRONG = {"username": "alice", "password": "guess"}
RIGHT = {"username": "alice", "password": PASSWORD}


class CountingHasher(MD5PasswordHasher):
    """The tests' fast hasher, counting how often a password is checked."""

    checks = 0

    def verify(self, password, encoded):
        type(self).checks += 1
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def alice(db, settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.checks = 0
    return OperatorFactory(user__username="alice", user__is_staff=True)


def token_attempt(api_client, body, **headers) -> int:
    return api_client.post(TOKEN, body, format="json", **headers).status_code


def test_past_ten_failures_the_right_password_answers_429_with_retry_after(api_client):
    codes = [token_attempt(api_client, WRONG) for _ in range(10)]

    response = api_client.post(TOKEN, RIGHT, format="json")

    assert codes == [400] * 10
    assert response.status_code == 429
    assert response.json() == {
        "detail": "Too many failed logins. Expected available in 60 seconds.",
        "code": "throttled",
    }
    assert response["Retry-After"] == "60"


def test_a_refused_attempt_never_reaches_the_password_hasher(api_client):
    for _ in range(10):
        token_attempt(api_client, WRONG)
    checked = CountingHasher.checks

    codes = [token_attempt(api_client, WRONG) for _ in range(20)]

    assert codes == [429] * 20
    assert checked == 10
    assert CountingHasher.checks == checked


def test_successful_logins_do_not_count(api_client):
    codes = [token_attempt(api_client, RIGHT) for _ in range(15)]

    assert codes == [200] * 15


def test_a_client_x_forwarded_for_is_ignored_without_trusted_proxies(api_client):
    codes = [
        token_attempt(api_client, WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(12)
    ]

    assert codes == [400] * 10 + [429] * 2


def test_behind_a_proxy_each_client_address_has_its_own_budget(settings, api_client):
    settings.NUM_PROXIES = 1

    def attempt(client_ip: str, username: str) -> int:
        body = {"username": username, "password": "guess"}
        return token_attempt(api_client, body, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_ip}")

    first = [attempt("203.0.113.7", f"user{n}") for n in range(11)]
    other = attempt("198.51.100.9", "someone")

    assert first == [400] * 10 + [429]
    assert other == 400


def test_one_username_is_limited_whatever_address_the_guesses_come_from(api_client):
    codes = [token_attempt(api_client, WRONG, REMOTE_ADDR=f"192.0.2.{n}") for n in range(11)]

    assert codes == [400] * 10 + [429]
    assert (
        token_attempt(api_client, {"username": "bob", "password": "x"}, REMOTE_ADDR="192.0.2.99")
        == 400
    )


def test_the_admin_login_is_limited_and_answers_its_page_with_429():
    browser = Client()
    wrong = {"username": "alice", "password": "guess"}
    codes = [browser.post(ADMIN_LOGIN, wrong).status_code for _ in range(10)]

    response = browser.post(ADMIN_LOGIN, {"username": "alice", "password": PASSWORD})

    assert codes == [200] * 10
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert 'name="password"' in page
    assert "Too many failed logins" in page
    assert browser.get("/admin/").status_code == 302  # still not logged in


def test_admin_and_token_failures_share_one_count(api_client):
    browser = Client()
    for _ in range(5):
        browser.post(ADMIN_LOGIN, WRONG)
    codes = [token_attempt(api_client, WRONG) for _ in range(6)]

    assert codes == [400] * 5 + [429]


def test_a_login_goes_through_when_the_cache_is_unreachable(unreachable_redis_cache, api_client):
    wrong = api_client.post(TOKEN, WRONG, format="json")
    right = api_client.post(TOKEN, RIGHT, format="json")

    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_credentials"
    assert right.status_code == 200


@pytest.mark.redis
def test_the_count_lives_in_redis_so_every_worker_shares_it(redis_cache, api_client):
    codes = [token_attempt(api_client, WRONG) for _ in range(11)]

    assert codes == [400] * 10 + [429]
    assert redis_cache.keys("*")
