import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from operators_app.models import Operator
from operators_app.tests.factories import OperatorFactory
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def test_changelist_renders_with_open_request_counts(operator_admin_client):
    operator = OperatorFactory(name="Alice Cooper")
    SupportRequestFactory(taken=True, operator=operator)
    SupportRequestFactory(closed=True, operator=operator)

    response = operator_admin_client.get(reverse("admin:operators_app_operator_changelist"))

    assert response.status_code == 200
    assert b"Alice Cooper" in response.content
    assert response.context["cl"].result_list.get(pk=operator.pk).open_requests == 1


def test_adding_an_operator_creates_the_user_and_the_profile(operator_admin_client):
    response = operator_admin_client.post(
        reverse("admin:operators_app_operator_add"),
        {
            "username": "bob",
            "name": "Bob Builder",
            "email": "Bob@Example.com",
            "password": "a-long-and-unusual-passphrase",
        },
    )

    assert response.status_code == 302, response.content
    operator = Operator.objects.get(user__username="bob")
    assert operator.name == "Bob Builder"
    assert operator.user.email == "bob@example.com"
    assert operator.user.check_password("a-long-and-unusual-passphrase")


def test_adding_an_operator_with_a_taken_username_shows_an_error(operator_admin_client):
    OperatorFactory(user__username="bob")

    response = operator_admin_client.post(
        reverse("admin:operators_app_operator_add"), {"username": "BOB", "name": "Bob"}
    )

    assert response.status_code == 200
    assert b"already exists" in response.content
    assert get_user_model().objects.filter(username__iexact="bob").count() == 1


def test_change_page_renders(operator_admin_client):
    operator = OperatorFactory()
    response = operator_admin_client.get(
        reverse("admin:operators_app_operator_change", args=[operator.pk])
    )
    assert response.status_code == 200
