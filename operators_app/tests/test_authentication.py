"""Token authentication: one hand-built statement that loads what the ORM would."""

import pytest
from django.forms.models import model_to_dict
from rest_framework.authtoken.models import Token

from operators_app.authentication import _credentials_query
from operators_app.tests.factories import OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db


def load(key: str):
    return _credentials_query("default").get(key)


def fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_token_user_and_operator_equal_what_the_orm_loads(django_assert_num_queries):
    operator = OperatorFactory(user__is_staff=True)
    key = Token.objects.create(user=operator.user).key
    expected = Token.objects.select_related("user", "user__operator").get(key=key)

    with django_assert_num_queries(1):
        token = load(key)
        assert token.user.operator.user is token.user

    assert fields(token) == fields(expected)
    assert fields(token.user) == fields(expected.user)
    assert fields(token.user.operator) == fields(expected.user.operator)
    assert model_to_dict(token.user.operator) == model_to_dict(expected.user.operator)
    assert token.created.tzinfo is not None
    assert token.user.date_joined.tzinfo is not None


def test_a_user_without_operator_profile_has_none_cached(django_assert_num_queries):
    key = Token.objects.create(user=UserFactory()).key

    with django_assert_num_queries(1):
        user = load(key).user
        with pytest.raises(user.__class__.operator.RelatedObjectDoesNotExist):
            user.operator  # noqa: B018 (the access is the test)


def test_an_unknown_key_is_none():
    assert load("0" * 40) is None


@pytest.mark.parametrize("key", ["x" * 41, "abc\x00def", "abc\xe9", "a-b"])
def test_a_key_that_cannot_be_a_key_never_reaches_the_database(
    api_client, key, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = api_client.get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 401
