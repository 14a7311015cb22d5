"""Every error under /api/ is JSON: `{"detail", "code"}`, or field errors for validation."""

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import Client
from django.urls import include, path
from rest_framework import serializers
from rest_framework.test import APIClient
from rest_framework.views import APIView

from servicedesk import exceptions as errors
from servicedesk.exceptions import DomainError, exception_handler

pytestmark = pytest.mark.django_db


class _HeldError(DomainError):
    status_code = 409
    code = "already_taken"
    default_detail = "Another operator already holds this request."


class _NamesItsRequestError(DomainError):
    status_code = 409
    code = "open_request_exists"

    @property
    def extra(self):
        return {"request_id": 17}


class _Boom(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("unexpected")

    def post(self, request):
        raise serializers.ValidationError("The body as a whole is wrong.")


def _django_boom(request):
    raise RuntimeError("unexpected outside DRF")


def _django_404(request):
    raise Http404("gone")


urlpatterns = [
    path("api/test/boom/", _Boom.as_view()),
    path("api/test/django-boom/", _django_boom),
    path("api/test/django-404/", _django_404),
    path("plain/django-boom/", _django_boom),
    path("", include("servicedesk.urls")),
]
handler404 = errors.handler404
handler500 = errors.handler500


# --- the handler itself ---------------------------------------------------------------


def test_domain_error_maps_to_its_status_and_code():
    response = exception_handler(_HeldError(), {})

    assert response.status_code == 409
    assert response.data == {
        "detail": "Another operator already holds this request.",
        "code": "already_taken",
    }


def test_domain_error_carries_its_extra_fields_beside_detail_and_code():
    response = exception_handler(_NamesItsRequestError("Jane has #17 open."), {})

    assert response.data == {
        "detail": "Jane has #17 open.",
        "code": "open_request_exists",
        "request_id": 17,
    }


def test_an_unexpected_exception_is_left_to_django():
    assert exception_handler(RuntimeError("unexpected"), {}) is None


def test_http404_maps_to_a_not_found_error():
    response = exception_handler(Http404("x"), {})

    assert response.status_code == 404
    assert response.data == {"detail": "Not found.", "code": "not_found"}


def test_django_permission_denied_maps_to_403():
    response = exception_handler(PermissionDenied(), {})

    assert response.status_code == 403
    assert response.data["code"] == "permission_denied"


def test_django_validation_error_with_fields_keeps_the_field_shape():
    response = exception_handler(DjangoValidationError({"email": ["Bad address."]}), {})

    assert response.status_code == 400
    assert response.data == {"email": ["Bad address."]}


def test_validation_error_about_the_whole_body_is_detail_and_code():
    response = exception_handler(DjangoValidationError("Nothing fits."), {})

    assert response.status_code == 400
    assert response.data == {"detail": "Nothing fits.", "code": "invalid"}


def test_field_validation_errors_keep_drfs_shape():
    exc = serializers.ValidationError({"body": ["This field may not be blank."]})

    response = exception_handler(exc, {})

    assert response.data == {"body": ["This field may not be blank."]}


# --- over HTTP ------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_an_unexpected_exception_in_an_api_view_is_a_logged_json_500(caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = APIClient(raise_request_exception=False).get("/api/test/boom/")

    assert response.status_code == 500
    assert response.json() == {
        "detail": "The server hit an unexpected error; it has been logged.",
        "code": "server_error",
    }
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info[0] is RuntimeError
    assert "/api/test/boom/" in record.getMessage()


@pytest.mark.urls(__name__)
def test_a_non_field_validation_error_over_http_is_detail_and_code():
    response = APIClient().post("/api/test/boom/", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "The body as a whole is wrong.", "code": "invalid"}


@pytest.mark.urls(__name__)
def test_an_exception_outside_drf_under_api_is_a_json_500():
    response = Client(raise_request_exception=False).get("/api/test/django-boom/")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


@pytest.mark.urls(__name__)
def test_an_exception_outside_api_keeps_djangos_html_500():
    response = Client(raise_request_exception=False).get("/plain/django-boom/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls(__name__)
def test_http404_from_a_django_view_under_api_is_json():
    response = Client().get("/api/test/django-404/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize(
    "url", ["/api/v1/nope/", "/api/v2/requests/", "/api/", "/api/v1/requests/abc/", "/api/v1/x"]
)
def test_unknown_api_routes_are_a_json_404_for_every_method(api_client, method, url):
    response = getattr(api_client, method)(url)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_api_url_without_its_trailing_slash_is_a_404_that_says_so(operator_client):
    response = operator_client.post("/api/v1/requests/1/take")

    assert response.status_code == 404
    assert "/api/v1/requests/1/take/" in response.json()["detail"]


def test_unknown_routes_outside_api_keep_djangos_page(client):
    response = client.get("/nothing-here/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("put", "/api/v1/requests/"),
        ("delete", "/api/v1/operators/me/"),
        ("patch", "/api/v1/operators/"),
        ("get", "/api/v1/auth/token/"),
    ],
)
def test_wrong_methods_on_api_routes_are_a_json_405_with_allow(operator_client, method, url):
    response = getattr(operator_client, method)(url)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"]


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_wrong_methods_on_the_documentation_are_a_json_405(api_client, url):
    response = api_client.post(url)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_an_unacceptable_accept_header_is_a_json_406(operator_client):
    response = operator_client.get("/api/v1/requests/", HTTP_ACCEPT="application/xml")

    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"


def test_an_unknown_format_is_a_json_404(operator_client):
    response = operator_client.get("/api/v1/requests/", {"format": "xml"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "payload", [b"[1, 2]", b'"just a string"', b"42", b"null", b"{bad json", b"\xff\xfe{}"]
)
def test_a_body_that_is_not_a_json_object_is_a_json_400(staff_client, payload):
    response = staff_client.post("/api/v1/operators/", payload, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code"}


def test_an_empty_json_body_is_field_errors_for_the_required_fields(staff_client):
    response = staff_client.post("/api/v1/operators/", b"", content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "name"}


def test_a_huge_id_in_the_path_is_a_404_not_a_500(operator_client):
    for url in (
        "/api/v1/requests/{}/",
        "/api/v1/requests/{}/take/",
        "/api/v1/requests/{}/messages/",
    ):
        response = operator_client.get(url.format(10**40))
        assert response.status_code in (404, 405)
        assert response.json()["code"] in ("not_found", "method_not_allowed")
    response = operator_client.post(f"/api/v1/requests/{10**40}/close/")
    assert response.status_code == 404
