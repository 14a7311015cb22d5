"""The token endpoint and the operators API: every route with its status codes."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from operators_app.models import Operator
from operators_app.tests.factories import PASSWORD, OperatorFactory, UserFactory
from requests_app.models import Status
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
OPERATORS = "/api/v1/operators/"
ME = "/api/v1/operators/me/"
OPERATOR_FIELDS = {"id", "name", "username", "email", "is_active", "open_requests"}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """The token endpoint's rate limit counts in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


# --- POST /api/v1/auth/token/ -----------------------------------------------------------


def test_token_for_right_credentials_is_a_200_with_a_working_token(api_client):
    operator = OperatorFactory(user__username="alice")

    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    key = response.json()["token"]
    assert Token.objects.get(key=key).user == operator.user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(ME).json()["username"] == "alice"


def test_token_is_the_same_on_every_login(api_client):
    OperatorFactory(user__username="alice")
    credentials = {"username": "alice", "password": PASSWORD}

    first = api_client.post(TOKEN, credentials, format="json").json()["token"]
    second = api_client.post(TOKEN, credentials, format="json").json()["token"]

    assert first == second


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("ALICE", PASSWORD), ("alice", "")],
)
def test_token_for_wrong_credentials_is_a_400(api_client, username, password):
    OperatorFactory(user__username="alice")

    response = api_client.post(TOKEN, {"username": username, "password": password}, format="json")

    assert response.status_code == 400
    body = response.json()
    if password:
        assert body == {
            "detail": "Unable to log in with the provided username and password.",
            "code": "invalid_credentials",
        }
    else:
        assert list(body) == ["password"]


def test_token_for_an_inactive_user_is_a_400(api_client):
    OperatorFactory(user__username="alice", user__is_active=False)

    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


def test_token_without_fields_is_a_400_with_field_errors(api_client):
    response = api_client.post(TOKEN, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_token_ignores_a_stale_authorization_header(api_client):
    OperatorFactory(user__username="alice")
    api_client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")

    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200


def form_post(client, body: str):
    """POST `body` as curl's `-d name=value` sends it: application/x-www-form-urlencoded."""
    return client.generic("POST", TOKEN, body, content_type="application/x-www-form-urlencoded")


def test_token_from_a_form_post_as_curl_sends_it_is_a_200(api_client):
    OperatorFactory(user__username="alice")

    response = form_post(api_client, f"username=alice&password={PASSWORD}")

    assert response.status_code == 200, response.content
    assert response.json()["token"] == Token.objects.get(user__username="alice").key


def test_token_from_a_multipart_form_is_a_200(api_client):
    OperatorFactory(user__username="alice")

    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200


def test_token_from_a_form_with_a_field_given_twice_is_a_400(api_client):
    OperatorFactory(user__username="alice")

    response = form_post(api_client, f"username=alice&password={PASSWORD}&password=other")

    assert response.status_code == 400
    assert response.json() == {"password": ["Give this field once."]}


def test_token_from_a_form_with_wrong_credentials_is_a_400(api_client):
    OperatorFactory(user__username="alice")

    response = form_post(api_client, "username=alice&password=wrong")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


def test_token_with_a_plain_text_body_is_a_415(api_client):
    response = api_client.generic("POST", TOKEN, "alice", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_token_with_get_is_a_405(api_client):
    response = api_client.get(TOKEN)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_token_attempts_are_throttled_with_a_429_and_retry_after(api_client):
    OperatorFactory(user__username="alice")
    wrong = {"username": "alice", "password": "guess"}

    codes = [api_client.post(TOKEN, wrong, format="json").status_code for _ in range(10)]
    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")

    assert codes == [400] * 10
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


# --- GET /api/v1/operators/ -------------------------------------------------------------


def test_operators_list_shows_each_operator_with_open_requests_counted(operator_client, operator):
    alice = OperatorFactory(name="Alice", user__username="alice", user__email="alice@example.com")
    SupportRequestFactory.create_batch(2, status=Status.IN_PROGRESS, operator=alice)
    SupportRequestFactory(closed=True, operator=alice)
    SupportRequestFactory()

    response = operator_client.get(OPERATORS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    by_id = {item["id"]: item for item in body["results"]}
    assert by_id[alice.pk] == {
        "id": alice.pk,
        "name": "Alice",
        "username": "alice",
        "email": "alice@example.com",
        "is_active": True,
        "open_requests": 2,
    }
    assert by_id[operator.pk]["open_requests"] == 0


def test_operators_list_is_ordered_by_name(operator_client, operator):
    operator.name = "Mallory"
    operator.save()
    OperatorFactory(name="Zed")
    OperatorFactory(name="Alice")

    names = [item["name"] for item in operator_client.get(OPERATORS).json()["results"]]

    assert names == ["Alice", "Mallory", "Zed"]


def test_operators_list_shows_inactive_operators_as_inactive(operator_client):
    gone = OperatorFactory(user__is_active=False)

    results = operator_client.get(OPERATORS).json()["results"]

    assert {"id": gone.pk, "is_active": False}.items() <= next(
        item for item in results if item["id"] == gone.pk
    ).items()


def test_operators_list_uses_the_same_number_of_queries_whatever_the_page_size(
    operator_client, django_assert_num_queries
):
    for _ in range(6):
        SupportRequestFactory(status=Status.IN_PROGRESS, operator=OperatorFactory())

    with django_assert_num_queries(3):
        operator_client.get(OPERATORS, {"page_size": 1})
    with django_assert_num_queries(3):
        response = operator_client.get(OPERATORS, {"page_size": 200})

    assert len(response.json()["results"]) == 7


def test_operators_list_is_paginated(operator_client):
    OperatorFactory.create_batch(3)

    body = operator_client.get(OPERATORS, {"page_size": 2}).json()

    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["next"] is not None
    assert operator_client.get(OPERATORS, {"page": 9}).status_code == 404
    assert operator_client.get(OPERATORS, {"page": "x"}).status_code == 400


def test_operators_list_without_credentials_is_a_401(api_client):
    assert api_client.get(OPERATORS).status_code == 401


def test_operators_list_for_a_user_without_operator_profile_is_a_403(user_client):
    response = user_client.get(OPERATORS)

    assert response.status_code == 403
    assert response.json()["code"] == "no_operator_profile"


def test_operators_list_for_staff_without_a_profile_is_allowed(api_client):
    api_client.force_authenticate(UserFactory(is_staff=True))

    assert api_client.get(OPERATORS).status_code == 200


# --- POST /api/v1/operators/ ------------------------------------------------------------

NEW = {
    "username": "bob",
    "name": "Bob Builder",
    "email": "Bob@Example.com",
    "password": "a-long-unguessable-passphrase",
}


def test_staff_creates_an_operator_with_user_and_profile(staff_client, api_client):
    response = staff_client.post(OPERATORS, NEW, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == OPERATOR_FIELDS
    assert body["name"] == "Bob Builder"
    assert body["username"] == "bob"
    assert body["email"] == "bob@example.com"
    assert body["is_active"] is True
    assert body["open_requests"] == 0
    operator = Operator.objects.get(pk=body["id"])
    assert operator.user.username == "bob"
    assert not operator.user.is_staff
    login = api_client.post(TOKEN, {"username": "bob", "password": NEW["password"]}, format="json")
    assert login.status_code == 200


def test_create_with_only_username_and_name_makes_a_user_without_a_usable_password(staff_client):
    response = staff_client.post(OPERATORS, {"username": "carol", "name": "Carol"}, format="json")

    assert response.status_code == 201
    assert response.json()["email"] == ""
    user = get_user_model().objects.get(username="carol")
    assert not user.has_usable_password()


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_create_with_a_taken_username_is_a_400(staff_client, username):
    OperatorFactory(user__username="alice")

    response = staff_client.post(OPERATORS, {"username": username, "name": "A"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert get_user_model().objects.filter(username__iexact="alice").count() == 1


def test_create_with_a_username_of_a_user_without_profile_is_a_400(staff_client):
    UserFactory(username="dave")

    response = staff_client.post(OPERATORS, {"username": "dave", "name": "Dave"}, format="json")

    assert response.status_code == 400
    assert not Operator.objects.filter(user__username="dave").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No Username"}, "username"),
        ({"username": "erin"}, "name"),
        ({"username": "erin", "name": "   "}, "name"),
        ({"username": "has space", "name": "E"}, "username"),
        ({"username": "x" * 151, "name": "E"}, "username"),
        ({"username": "erin", "name": "E", "email": "not-an-address"}, "email"),
        ({"username": "erin", "name": "E", "password": "123"}, "password"),
        ({"username": "erin", "name": "E", "password": "password"}, "password"),
        ({"username": "erinbrown", "name": "E", "password": "erinbrown1"}, "password"),
        ({"username": "erin", "name": "E\x00"}, "name"),
        ({"username": 5, "name": ["E"]}, "name"),
    ],
)
def test_create_with_an_invalid_field_is_a_400_naming_it(staff_client, body, field):
    response = staff_client.post(OPERATORS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Operator.objects.filter(user__username="erin").exists()


def test_create_with_a_body_that_is_not_an_object_is_a_400(staff_client):
    response = staff_client.post(OPERATORS, ["bob"], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_create_by_a_non_staff_operator_is_a_403(operator_client):
    response = operator_client.post(OPERATORS, NEW, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only staff may manage operators.",
        "code": "permission_denied",
    }
    assert not get_user_model().objects.filter(username="bob").exists()


def test_create_by_a_user_without_operator_profile_is_a_403(user_client):
    assert user_client.post(OPERATORS, NEW, format="json").status_code == 403


def test_create_by_staff_without_a_profile_is_allowed(api_client):
    api_client.force_authenticate(UserFactory(is_staff=True))

    assert api_client.post(OPERATORS, NEW, format="json").status_code == 201


def test_create_without_credentials_is_a_401(api_client):
    assert api_client.post(OPERATORS, NEW, format="json").status_code == 401


def test_operators_with_delete_is_a_405(staff_client):
    assert staff_client.delete(OPERATORS).status_code == 405


# --- GET /api/v1/operators/me/ ----------------------------------------------------------


def test_me_answers_the_callers_profile(operator_client, operator):
    SupportRequestFactory(status=Status.IN_PROGRESS, operator=operator)

    response = operator_client.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == OPERATOR_FIELDS
    assert body["id"] == operator.pk
    assert body["username"] == operator.user.username
    assert body["open_requests"] == 1


def test_me_for_a_user_without_a_profile_is_a_403(user_client):
    response = user_client.get(ME)

    assert response.status_code == 403
    assert response.json()["code"] == "no_operator_profile"


def test_me_without_credentials_is_a_401(api_client):
    response = api_client.get(ME)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_me_with_post_is_a_405(operator_client):
    assert operator_client.post(ME).status_code == 405
