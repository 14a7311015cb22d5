"""Input of any shape gets a 4xx that says what was wrong, never a 5xx (API.md, General rules)."""

import pytest
import yaml

from requests_app.models import Status
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

DEEP_JSON = "[" * 5000 + "]" * 5000
HUGE_NUMBER = "9" * 5000


@pytest.fixture
def support_request(db):
    return SupportRequestFactory(status=Status.NEW)


@pytest.mark.parametrize("body", [DEEP_JSON, '{"body": ' + "[" * 100 + "]" * 100 + "}"])
@pytest.mark.parametrize("route", ["token", "messages", "operators"])
def test_deeply_nested_json_is_a_400_on_every_json_route(
    route, body, staff_client, support_request
):
    path = {
        "token": "/api/v1/auth/token/",
        "messages": f"/api/v1/requests/{support_request.pk}/messages/",
        "operators": "/api/v1/operators/",
    }[route]

    response = staff_client.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "nested" in response.json()["detail"]


def test_json_nested_within_the_limit_still_reaches_validation(staff_client):
    response = staff_client.post(
        "/api/v1/operators/",
        '{"username": "bob", "name": ' + "[" * 30 + "]" * 30 + "}",
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "name" in response.json()


@pytest.mark.parametrize("parameter", ["page", "page_size"])
@pytest.mark.parametrize(
    "route", ["/api/v1/requests/", "/api/v1/operators/", "/api/v1/requests/{id}/messages/"]
)
def test_page_numbers_of_any_length_are_a_400(route, parameter, operator_client, support_request):
    path = route.format(id=support_request.pk)

    response = operator_client.get(path, {parameter: HUGE_NUMBER})

    assert response.status_code == 400
    assert parameter in response.json()


def test_a_page_past_the_end_within_range_is_a_404(operator_client, support_request):
    response = operator_client.get("/api/v1/requests/", {"page": str(2**63 - 1)})

    assert response.status_code == 404


def test_an_operator_id_of_any_length_is_a_400(operator_client):
    response = operator_client.get("/api/v1/requests/", {"operator": HUGE_NUMBER})

    assert response.status_code == 400
    assert "operator" in response.json()


@pytest.mark.parametrize("parameter", ["page", "page_size", "operator", "created_after"])
def test_an_empty_parameter_the_schema_forbids_is_a_400(parameter, operator_client):
    response = operator_client.get(f"/api/v1/requests/?{parameter}=")

    assert response.status_code == 400
    assert parameter in response.json()


# --- repeated parameters ----------------------------------------------------------------


def test_a_repeated_status_is_read_whole(operator_client):
    new = SupportRequestFactory(status=Status.NEW)
    SupportRequestFactory(taken=True)
    closed = SupportRequestFactory(closed=True)

    repeated = operator_client.get("/api/v1/requests/?status=new&status=closed")
    commas = operator_client.get("/api/v1/requests/?status=new,closed")

    assert repeated.status_code == 200
    assert {row["id"] for row in repeated.json()["results"]} == {new.pk, closed.pk}
    assert repeated.json() == commas.json()


def test_a_repeated_ordering_is_read_in_order(operator_client):
    first = SupportRequestFactory(subject="b")
    second = SupportRequestFactory(subject="a")
    third = SupportRequestFactory(subject="a")

    response = operator_client.get("/api/v1/requests/?ordering=subject&ordering=-id")

    assert [row["id"] for row in response.json()["results"]] == [third.pk, second.pk, first.pk]


def test_an_invalid_value_among_repeated_ones_is_a_400(operator_client):
    response = operator_client.get("/api/v1/requests/?status=new&status=open")

    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize(
    "query",
    ["operator=none&operator=1", "page=1&page=2", "search=a&search=b", "page_size=1&page_size=2"],
)
def test_a_repeated_single_value_parameter_is_a_400(query, operator_client, support_request):
    response = operator_client.get(f"/api/v1/requests/?{query}")

    assert response.status_code == 400
    assert response.json() == {query.split("=")[0]: ["Give this parameter once."]}


def test_a_repeated_page_on_another_list_is_a_400(operator_client, support_request):
    response = operator_client.get(f"/api/v1/requests/{support_request.pk}/messages/?page=1&page=1")

    assert response.status_code == 400


# --- strings are strings ------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, 1.5, True, ["x"], {"x": 1}])
def test_a_number_for_a_string_field_is_refused_not_coerced(value, api_client, operator):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": value, "password": "x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"username": ["Not a valid string."]}


def test_a_number_for_a_reply_body_is_refused(operator_client, support_request):
    response = operator_client.post(
        f"/api/v1/requests/{support_request.pk}/messages/", {"body": 12345}, format="json"
    )

    assert response.status_code == 400
    assert "body" in response.json()
    assert support_request.messages.count() == 0


def test_a_number_for_an_operator_name_is_refused(staff_client):
    response = staff_client.post(
        "/api/v1/operators/", {"username": "bob", "name": 42}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"name": ["Not a valid string."]}


# --- the document says so ---------------------------------------------------------------


def test_the_schema_gives_page_numbers_a_minimum_and_a_maximum(client):
    document = yaml.safe_load(client.get("/api/schema/").content)

    for path in ("/api/v1/requests/", "/api/v1/operators/", "/api/v1/requests/{id}/messages/"):
        parameters = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
        for name in ("page", "page_size"):
            assert parameters[name]["schema"]["minimum"] == 1
            assert parameters[name]["schema"]["maximum"] == 2**63 - 1
