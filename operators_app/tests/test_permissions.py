"""Who may call what: each role against each operator-facing route."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from operators_app.tests.factories import OperatorFactory, UserFactory
from requests_app.models import Status
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def make_client(role: str) -> APIClient:
    if role == "anonymous":
        return APIClient()
    if role == "unknown token":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
        return client
    if role == "inactive operator":
        return _token_client(OperatorFactory(user__is_active=False).user)
    if role == "user without profile":
        return _token_client(UserFactory())
    if role == "staff without profile":
        return _token_client(UserFactory(is_staff=True))
    if role == "operator":
        return _token_client(OperatorFactory().user)
    if role == "staff operator":
        return _token_client(OperatorFactory(user__is_staff=True).user)
    raise AssertionError(role)


ROLES = [
    "anonymous",
    "unknown token",
    "inactive operator",
    "user without profile",
    "staff without profile",
    "operator",
    "staff operator",
]

# Expected status per role, in the order of ROLES. Staff are always operators (API.md): a
# staff user without a profile gets one on their first call and is served.
MATRIX = [
    ("get", "/api/v1/requests/", [401, 401, 401, 403, 200, 200, 200]),
    ("get", "/api/v1/requests/{id}/", [401, 401, 401, 403, 200, 200, 200]),
    ("post", "/api/v1/requests/{id}/take/", [401, 401, 401, 403, 200, 200, 200]),
    ("post", "/api/v1/requests/{id}/close/", [401, 401, 401, 403, 200, 200, 200]),
    ("get", "/api/v1/requests/{id}/messages/", [401, 401, 401, 403, 200, 200, 200]),
    ("post", "/api/v1/requests/{id}/messages/", [401, 401, 401, 403, 201, 201, 201]),
    ("get", "/api/v1/operators/", [401, 401, 401, 403, 200, 200, 200]),
    ("post", "/api/v1/operators/", [401, 401, 401, 403, 201, 403, 201]),
    ("get", "/api/v1/operators/me/", [401, 401, 401, 403, 200, 200, 200]),
    ("get", "/api/schema/", [200, 200, 200, 200, 200, 200, 200]),
]
CASES = [
    pytest.param(method, path, role, expected, id=f"{method.upper()} {path} as {role}")
    for method, path, codes in MATRIX
    for role, expected in zip(ROLES, codes, strict=True)
]


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES)
def test_role_gets_the_expected_status(method, path, role, expected):
    support_request = SupportRequestFactory()
    body = {
        "/api/v1/requests/{id}/messages/": {"body": "Hello"},
        "/api/v1/operators/": {"username": "newbie", "name": "Newbie"},
    }.get(path)
    client = make_client(role)

    response = getattr(client, method)(
        path.format(id=support_request.pk), body, format="json" if body else None
    )

    assert response.status_code == expected, response.content
    if expected == 401:
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["code"] in ("not_authenticated", "authentication_failed")
    if expected == 403:
        assert response.json()["code"] in ("no_operator_profile", "permission_denied")


def test_closing_another_holders_request_is_a_403_for_an_operator_and_fine_for_staff():
    holder = OperatorFactory()
    first = SupportRequestFactory(status=Status.IN_PROGRESS, operator=holder)
    second = SupportRequestFactory(status=Status.IN_PROGRESS, operator=holder)

    as_operator = make_client("operator").post(f"/api/v1/requests/{first.pk}/close/")
    as_staff = make_client("staff operator").post(f"/api/v1/requests/{second.pk}/close/")

    assert as_operator.status_code == 403
    assert as_operator.json()["code"] == "permission_denied"
    assert as_staff.status_code == 200


def test_session_login_works_for_reads_and_needs_csrf_for_writes(operator):
    support_request = SupportRequestFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator.user)

    read = client.get(f"/api/v1/requests/{support_request.pk}/")
    write = client.post(f"/api/v1/requests/{support_request.pk}/take/")

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json()["code"] == "permission_denied"
    assert "CSRF" in write.json()["detail"]


def test_a_deactivated_operators_token_stops_working(operator, operator_client):
    assert operator_client.get("/api/v1/operators/me/").status_code == 200

    operator.user.is_active = False
    operator.user.save()

    response = operator_client.get("/api/v1/operators/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
