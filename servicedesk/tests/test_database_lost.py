"""A PostgreSQL connection terminated mid-request (API.md: "When a dependency is down the
service answers 503 quickly"): a 503 in the error shape, never a 500; a GET is retried
once on a fresh connection; nothing is changed by a write that could not finish."""

import contextlib

import pytest
from django.db import connection

from requests_app import selectors
from requests_app.models import Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def terminate_own_backend() -> None:
    """What `pg_terminate_backend` from an administrator or a failover does to us."""
    # The server hangs up while answering.
    with connection.cursor() as cursor, contextlib.suppress(Exception):
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


@pytest.fixture
def connection_killed_once(monkeypatch):
    """The next request-detail read finds its connection terminated under it."""
    original = selectors.get_request
    kills = []

    def get_request(**kwargs):
        if not kills:
            kills.append(1)
            terminate_own_backend()
        return original(**kwargs)

    monkeypatch.setattr("requests_app.apis.get_request", get_request)
    return kills


@pytest.fixture
def connection_killed_always(monkeypatch):
    original = selectors.get_request

    def get_request(**kwargs):
        terminate_own_backend()
        return original(**kwargs)

    monkeypatch.setattr("requests_app.apis.get_request", get_request)


def test_a_read_whose_connection_is_terminated_is_retried_on_a_fresh_one(
    operator_client, connection_killed_once
):
    support_request = SupportRequestFactory()

    response = operator_client.get(f"/api/v1/requests/{support_request.pk}/")

    assert connection_killed_once == [1]
    assert response.status_code == 200
    assert response.json()["id"] == support_request.pk


def test_a_read_that_keeps_losing_its_connection_is_a_503(
    operator_client, connection_killed_always
):
    support_request = SupportRequestFactory()

    response = operator_client.get(f"/api/v1/requests/{support_request.pk}/")

    assert response.status_code == 503
    assert response.json() == {
        "detail": "The database is unavailable right now; nothing was changed. Retry in a moment.",
        "code": "database_unavailable",
    }
    assert response["Retry-After"] == "2"
    # The next request gets a working connection again.
    assert operator_client.get("/api/v1/requests/").status_code == 200


def test_a_write_whose_connection_is_terminated_is_a_503_and_changes_nothing(
    operator_client, monkeypatch
):
    support_request = SupportRequestFactory(status=Status.NEW)
    from requests_app import services

    original = services.SupportRequest.objects.select_for_update

    def killed(*args, **kwargs):
        terminate_own_backend()
        return original(*args, **kwargs)

    monkeypatch.setattr(services.SupportRequest.objects, "select_for_update", killed)

    response = operator_client.post(f"/api/v1/requests/{support_request.pk}/take/")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    monkeypatch.undo()
    support_request = SupportRequest.objects.get(pk=support_request.pk)
    assert support_request.status == Status.NEW
    assert support_request.messages.count() == 0


def test_outside_the_api_a_lost_database_is_a_503_too(admin_user, monkeypatch):
    from django.contrib.admin import ModelAdmin
    from django.test import Client

    browser = Client(raise_request_exception=False)
    browser.force_login(admin_user)
    original = ModelAdmin.get_queryset

    def killed(self, request):
        terminate_own_backend()
        return original(self, request)

    monkeypatch.setattr(ModelAdmin, "get_queryset", killed)

    response = browser.get("/admin/requests_app/supportrequest/")

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
