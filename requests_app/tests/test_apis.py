"""The requests API: every route with every status code API.md names for it."""

import datetime
import re

import pytest
from django.utils import timezone
from rest_framework import serializers

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from operators_app.tests.factories import OperatorFactory
from requests_app.models import Party, Status, SupportRequest
from requests_app.selectors import list_requests
from requests_app.serializers import SupportRequestSerializer
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def detail(support_request) -> str:
    return f"/api/v1/requests/{support_request.pk}/"


def take(support_request) -> str:
    return f"/api/v1/requests/{support_request.pk}/take/"


def close(support_request) -> str:
    return f"/api/v1/requests/{support_request.pk}/close/"


def notices(support_request, kind: str = Kind.AUTO) -> list[Message]:
    return list(Message.objects.filter(request=support_request, kind=kind))


# --- the Request object ---------------------------------------------------------------


def test_request_object_has_exactly_the_fields_of_the_contract(operator_client):
    holder = OperatorFactory(name="Alice")
    support_request = SupportRequestFactory(
        subject="Printer is broken",
        requester_email="jane@example.com",
        requester_name="Jane Doe",
        status=Status.IN_PROGRESS,
        operator=holder,
        taken_at=timezone.now(),
        message_count=4,
        last_reply_by=Party.OPERATOR,
    )

    body = operator_client.get(detail(support_request)).json()

    # The request object of the contract (API.md), its fields in alphabetical order.
    assert set(body) == {
        "closed_at",
        "created_at",
        "first_response_at",
        "id",
        "last_message_at",
        "message_count",
        "operator",
        "requester_email",
        "requester_name",
        "status",
        "subject",
        "taken_at",
        "updated_at",
        "waiting_on",
    }
    assert body["id"] == support_request.pk
    assert body["subject"] == "Printer is broken"
    assert body["requester_email"] == "jane@example.com"
    assert body["requester_name"] == "Jane Doe"
    assert body["status"] == "in_progress"
    assert body["operator"] == {"id": holder.pk, "name": "Alice"}
    assert body["message_count"] == 4
    assert body["waiting_on"] == "requester"
    assert body["closed_at"] is None
    for field in ("created_at", "updated_at", "taken_at", "last_message_at"):
        assert RFC3339_UTC.match(body[field]), body[field]


def test_operator_is_null_until_taken(operator_client):
    support_request = SupportRequestFactory()

    assert operator_client.get(detail(support_request)).json()["operator"] is None


@pytest.mark.parametrize(
    ("status", "last_reply_by", "waiting_on"),
    [
        (Status.NEW, Party.REQUESTER, "operator"),
        (Status.IN_PROGRESS, Party.OPERATOR, "requester"),
        (Status.IN_PROGRESS, Party.REQUESTER, "operator"),
        (Status.CLOSED, Party.REQUESTER, None),
        (Status.CLOSED, Party.OPERATOR, None),
    ],
)
def test_waiting_on_follows_the_newest_human_message_and_is_null_when_closed(
    operator_client, operator, status, last_reply_by, waiting_on
):
    support_request = SupportRequestFactory(
        status=status,
        operator=operator if status != Status.NEW else None,
        closed_at=timezone.now() if status == Status.CLOSED else None,
        last_reply_by=last_reply_by,
    )

    assert operator_client.get(detail(support_request)).json()["waiting_on"] == waiting_on


def test_times_are_utc_with_z_whatever_the_process_time_zone(operator_client, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    support_request = SupportRequestFactory(
        created_at=datetime.datetime(2026, 11, 20, 10, 15, tzinfo=datetime.UTC)
    )

    body = operator_client.get(detail(support_request)).json()

    assert body["created_at"].startswith("2026-11-20T10:15:00")
    assert body["created_at"].endswith("Z")


def test_the_fast_representation_is_what_the_declared_fields_describe():
    SupportRequestFactory(last_reply_by=Party.REQUESTER, message_count=1)
    SupportRequestFactory(
        status=Status.IN_PROGRESS, operator=OperatorFactory(), taken_at=timezone.now()
    )
    SupportRequestFactory(closed=True, last_message_at=None)
    serializer = SupportRequestSerializer()

    for support_request in list_requests():
        fast = serializer.to_representation(support_request)
        generic = serializers.ModelSerializer.to_representation(serializer, support_request)
        assert fast == dict(generic)


# --- GET /api/v1/requests/ -----------------------------------------------------------


def test_list_is_paginated_with_count_next_previous(operator_client):
    SupportRequestFactory.create_batch(3)

    body = operator_client.get(LIST, {"page_size": 2}).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "page=2" in body["next"]
    second = operator_client.get(body["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None
    assert second["previous"] is not None


def test_list_defaults_to_pages_of_50(operator_client):
    SupportRequestFactory.create_batch(51)

    body = operator_client.get(LIST).json()

    assert body["count"] == 51
    assert len(body["results"]) == 50


def test_page_size_above_200_is_served_as_200(operator_client):
    SupportRequestFactory.create_batch(201)

    body = operator_client.get(LIST, {"page_size": 1000}).json()

    assert len(body["results"]) == 200
    assert "page_size=1000" in body["next"]


@pytest.mark.parametrize("page_size", ["0", "-1", "abc", "1.5", "\u0661"])
def test_page_size_that_is_not_a_positive_integer_is_a_400(operator_client, page_size):
    response = operator_client.get(LIST, {"page_size": page_size})

    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


@pytest.mark.parametrize("page", ["0", "-2", "abc", "1e3"])
def test_page_that_is_not_a_positive_integer_is_a_400(operator_client, page):
    response = operator_client.get(LIST, {"page": page})

    assert response.status_code == 400
    assert list(response.json()) == ["page"]


def test_page_past_the_last_is_a_json_404(operator_client):
    SupportRequestFactory()

    response = operator_client.get(LIST, {"page": 2})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page.", "code": "not_found"}


def test_page_last_is_the_last_page(operator_client):
    SupportRequestFactory.create_batch(3)

    body = operator_client.get(LIST, {"page_size": 2, "page": "last"}).json()

    assert len(body["results"]) == 1


def test_empty_list_is_a_200_with_no_results(operator_client):
    body = operator_client.get(LIST).json()

    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_uses_the_same_number_of_queries_whatever_the_page_size(
    operator_client, django_assert_num_queries
):
    for _ in range(3):
        holder = OperatorFactory()
        SupportRequestFactory.create_batch(20, status=Status.IN_PROGRESS, operator=holder)
    SupportRequestFactory.create_batch(20)
    # Token + operator (one query), count, page.
    with django_assert_num_queries(3):
        small = operator_client.get(LIST, {"page_size": 1, "ordering": "operator"})
    with django_assert_num_queries(3):
        large = operator_client.get(LIST, {"page_size": 200, "ordering": "operator"})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 80


@pytest.mark.parametrize(
    ("client_fixture", "status", "detail", "code", "challenge"),
    [
        pytest.param(
            "api_client",
            401,
            "Authentication credentials were not provided.",
            "not_authenticated",
            "Token",
            id="no-credentials",
        ),
        pytest.param(
            "user_client",
            403,
            "This user has no active operator profile.",
            "no_operator_profile",
            None,
            id="no-operator-profile",
        ),
    ],
)
def test_the_list_is_only_for_operators(request, client_fixture, status, detail, code, challenge):
    response = request.getfixturevalue(client_fixture).get(LIST)

    assert response.status_code == status
    assert response.json() == {"detail": detail, "code": code}
    assert response.headers.get("WWW-Authenticate") == challenge


@pytest.mark.parametrize(
    "header",
    ["Token 0123456789abcdef0123456789abcdef01234567", "Token a\x00b", "Token " + "a" * 41],
)
def test_list_with_an_invalid_token_is_a_401(api_client, header):
    response = api_client.get(LIST, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_list_with_an_invalid_filter_is_a_400_naming_it(operator_client):
    response = operator_client.get(LIST, {"status": "open"})

    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_list_answers_the_django_session_too(client, operator):
    client.force_login(operator.user)
    SupportRequestFactory()

    response = client.get(LIST, HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_list_renders_in_the_browsable_api(client, operator):
    client.force_login(operator.user)
    SupportRequestFactory(subject="Printer is broken")

    response = client.get(LIST, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"Printer is broken" in response.content


# --- GET /api/v1/requests/{id}/ --------------------------------------------------------


def test_detail_answers_the_request(operator_client):
    support_request = SupportRequestFactory(subject="VPN is down")

    response = operator_client.get(detail(support_request))

    assert response.status_code == 200
    assert response.json()["subject"] == "VPN is down"


@pytest.mark.parametrize("request_id", [999999, 2**63, 10**30])
def test_detail_of_a_missing_request_is_a_json_404(operator_client, request_id):
    response = operator_client.get(f"/api/v1/requests/{request_id}/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No request with this id.", "code": "not_found"}


def test_detail_without_credentials_is_a_401(api_client):
    response = api_client.get(detail(SupportRequestFactory()))

    assert response.status_code == 401


def test_detail_for_a_user_without_operator_profile_is_a_403(user_client):
    response = user_client.get(detail(SupportRequestFactory()))

    assert response.status_code == 403
    assert response.json()["code"] == "no_operator_profile"


@pytest.mark.parametrize("method", ["put", "patch", "delete", "post"])
def test_detail_with_another_method_is_a_json_405(operator_client, method):
    response = getattr(operator_client, method)(detail(SupportRequestFactory()))

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


# --- POST /api/v1/requests/{id}/take/ ---------------------------------------------------


def test_take_makes_a_new_request_in_progress_with_the_caller_and_queues_the_taken_notice(
    operator_client, operator
):
    support_request = SupportRequestFactory(message_count=1, last_reply_by=Party.REQUESTER)

    response = operator_client.post(take(support_request))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["operator"] == {"id": operator.pk, "name": operator.name}
    assert RFC3339_UTC.match(body["taken_at"])
    # The answer shows the state after the notice was recorded.
    assert body["message_count"] == 2
    assert body["waiting_on"] == "operator"
    support_request.refresh_from_db()
    assert support_request.status == Status.IN_PROGRESS
    assert support_request.operator == operator
    [notice] = notices(support_request)
    assert notice.direction == Direction.OUTBOUND
    assert notice.delivery_status == DeliveryStatus.PENDING
    assert f"[#{support_request.pk}]" in notice.subject


def test_take_by_the_holder_again_answers_200_and_changes_nothing(operator_client, operator):
    support_request = SupportRequestFactory()
    operator_client.post(take(support_request))
    support_request.refresh_from_db()
    before = (support_request.taken_at, support_request.updated_at, support_request.message_count)

    response = operator_client.post(take(support_request))

    assert response.status_code == 200
    assert response.json()["operator"]["id"] == operator.pk
    support_request.refresh_from_db()
    assert (
        support_request.taken_at,
        support_request.updated_at,
        support_request.message_count,
    ) == before
    assert len(notices(support_request)) == 1


def test_take_of_a_request_another_operator_holds_is_a_409_already_taken(
    operator_client, other_operator
):
    support_request = SupportRequestFactory(
        status=Status.IN_PROGRESS, operator=other_operator, taken_at=timezone.now()
    )

    response = operator_client.post(take(support_request))

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Another operator already holds this request.",
        "code": "already_taken",
    }
    support_request.refresh_from_db()
    assert support_request.operator == other_operator
    assert notices(support_request) == []


@pytest.mark.parametrize(
    ("client_fixture", "action", "status", "code"),
    [
        pytest.param("staff_client", take, 409, "already_taken", id="take-by-staff"),
        pytest.param("operator_client", close, 403, "permission_denied", id="close-by-non-staff"),
    ],
)
def test_a_request_another_operator_holds_is_left_to_them(
    request, other_operator, client_fixture, action, status, code
):
    client = request.getfixturevalue(client_fixture)
    support_request = SupportRequestFactory(status=Status.IN_PROGRESS, operator=other_operator)

    response = client.post(action(support_request))

    assert response.status_code == status
    assert response.json()["code"] == code
    support_request.refresh_from_db()
    assert (support_request.status, support_request.operator) == (
        Status.IN_PROGRESS,
        other_operator,
    )
    assert notices(support_request) == []


def test_take_of_a_closed_request_is_a_409_invalid_transition(operator_client):
    support_request = SupportRequestFactory(closed=True)

    response = operator_client.post(take(support_request))

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    support_request.refresh_from_db()
    assert support_request.status == Status.CLOSED
    assert support_request.operator is None
    assert notices(support_request) == []


def test_take_of_a_missing_request_is_a_404(operator_client):
    response = operator_client.post("/api/v1/requests/424242/take/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_take_without_credentials_is_a_401(api_client):
    support_request = SupportRequestFactory()

    response = api_client.post(take(support_request))

    assert response.status_code == 401
    support_request.refresh_from_db()
    assert support_request.status == Status.NEW


def test_take_for_a_user_without_operator_profile_is_a_403(user_client):
    support_request = SupportRequestFactory()

    response = user_client.post(take(support_request))

    assert response.status_code == 403
    assert response.json()["code"] == "no_operator_profile"
    support_request.refresh_from_db()
    assert support_request.status == Status.NEW


def test_take_with_get_is_a_405(operator_client):
    response = operator_client.get(take(SupportRequestFactory()))

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_take_ignores_a_body(operator_client):
    support_request = SupportRequestFactory()

    response = operator_client.post(take(support_request), {"operator": 12345}, format="json")

    assert response.status_code == 200


# --- POST /api/v1/requests/{id}/close/ --------------------------------------------------


def test_close_of_a_new_request_closes_it_and_queues_the_closed_notice(operator_client):
    support_request = SupportRequestFactory()

    response = operator_client.post(close(support_request))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "closed"
    assert RFC3339_UTC.match(body["closed_at"])
    assert body["waiting_on"] is None
    [notice] = notices(support_request)
    assert notice.delivery_status == DeliveryStatus.PENDING


def test_close_by_the_holder_closes_it(operator_client, operator):
    support_request = SupportRequestFactory(status=Status.IN_PROGRESS, operator=operator)

    response = operator_client.post(close(support_request))

    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert response.json()["operator"]["id"] == operator.pk


def test_close_of_a_request_another_operator_holds_succeeds_for_staff(staff_client, other_operator):
    support_request = SupportRequestFactory(status=Status.IN_PROGRESS, operator=other_operator)

    response = staff_client.post(close(support_request))

    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert len(notices(support_request)) == 1


def test_close_of_a_closed_request_is_a_409_invalid_transition(operator_client):
    support_request = SupportRequestFactory(closed=True)

    response = operator_client.post(close(support_request))

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert notices(support_request) == []


def test_close_of_a_closed_request_another_operator_held_is_still_a_409(
    operator_client, other_operator
):
    support_request = SupportRequestFactory(closed=True, operator=other_operator)

    response = operator_client.post(close(support_request))

    assert response.status_code == 409


def test_close_of_a_missing_request_is_a_404(operator_client):
    response = operator_client.post("/api/v1/requests/424242/close/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_close_without_credentials_is_a_401(api_client):
    response = api_client.post(close(SupportRequestFactory()))

    assert response.status_code == 401


def test_close_for_a_user_without_operator_profile_is_a_403(user_client):
    support_request = SupportRequestFactory()

    response = user_client.post(close(support_request))

    assert response.status_code == 403
    assert response.json()["code"] == "no_operator_profile"
    assert SupportRequest.objects.get(pk=support_request.pk).status == Status.NEW


def test_close_with_delete_is_a_405(operator_client):
    response = operator_client.delete(close(SupportRequestFactory()))

    assert response.status_code == 405
