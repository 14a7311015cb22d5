"""Staff users are always operators (API.md, Authentication): a profile, named from the
full name else the username, no later than their first authenticated call."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from operators_app.models import Operator
from operators_app.tests.factories import PASSWORD, OperatorFactory, UserFactory
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_superuser_made_with_createsuperuser_can_use_the_api_at_once(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command(
        "createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com"
    )
    client = APIClient()
    key = client.post(
        "/api/v1/auth/token/", {"username": "root", "password": PASSWORD}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    support_request = SupportRequestFactory()

    me = client.get("/api/v1/operators/me/")
    taken = client.post(f"/api/v1/requests/{support_request.pk}/take/")

    assert me.status_code == 200, me.content
    assert me.json()["username"] == "root"
    assert me.json()["name"] == "root"
    assert taken.status_code == 200
    assert taken.json()["operator"] == {"id": me.json()["id"], "name": "root"}


def test_a_staff_users_profile_is_named_from_the_full_name():
    user = UserFactory(is_staff=True, first_name="Alice", last_name="Smith")

    response = token_client(user).get("/api/v1/operators/me/")

    assert response.status_code == 200
    assert response.json()["name"] == "Alice Smith"
    assert Operator.objects.get(user=user).name == "Alice Smith"


def test_the_profile_is_made_once_whatever_the_number_of_calls():
    user = UserFactory(is_staff=True)
    client = token_client(user)

    for _ in range(3):
        assert client.get("/api/v1/requests/").status_code == 200

    assert Operator.objects.filter(user=user).count() == 1


def test_a_staff_user_logged_into_the_admin_is_an_operator_in_the_browsable_api(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)

    response = client.get("/api/v1/operators/me/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["username"] == user.username


def test_a_user_who_is_not_staff_gets_no_profile_and_a_403():
    user = UserFactory()

    response = token_client(user).get("/api/v1/operators/me/")

    assert response.status_code == 403
    assert response.json()["code"] == "no_operator_profile"
    assert not Operator.objects.filter(user=user).exists()


def test_an_inactive_staff_users_token_is_refused_and_gets_no_profile():
    user = UserFactory(is_staff=True, is_active=False)

    response = token_client(user).get("/api/v1/operators/me/")

    assert response.status_code == 401
    assert not Operator.objects.filter(user=user).exists()


# --- the admin's operator form -----------------------------------------------------------


def test_the_admin_attaches_a_profile_to_an_existing_user(operator_admin_client):
    user = UserFactory(username="carol", first_name="Carol", last_name="Jones")

    response = operator_admin_client.post(
        reverse("admin:operators_app_operator_add"), {"existing_user": user.pk, "name": ""}
    )

    assert response.status_code == 302, response.content
    operator = Operator.objects.get(user=user)
    assert operator.name == "Carol Jones"
    assert get_user_model().objects.filter(username="carol").count() == 1


def test_the_admin_offers_only_users_without_a_profile(operator_admin_client):
    free = UserFactory(username="free-user")
    taken = OperatorFactory(user__username="taken-user").user

    response = operator_admin_client.get(reverse("admin:operators_app_operator_add"))

    choices = response.context["adminform"].form.fields["existing_user"].queryset
    assert free in choices
    assert taken not in choices


def test_the_admin_form_without_a_user_or_a_username_says_what_is_missing(operator_admin_client):
    response = operator_admin_client.post(
        reverse("admin:operators_app_operator_add"), {"name": "X"}
    )

    assert response.status_code == 200
    assert b"Choose an existing user or enter a username." in response.content
    assert not Operator.objects.filter(name="X").exists()
