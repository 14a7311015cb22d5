"""Reads of requests: one query for a page, the operator joined, nothing per row."""

import pytest

from operators_app.tests.factories import OperatorFactory
from requests_app.models import Status
from requests_app.selectors import get_request, list_requests, request_exists
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def test_list_requests_is_newest_first():
    first = SupportRequestFactory()
    second = SupportRequestFactory()

    assert list(list_requests()) == [second, first]


def test_list_requests_reads_a_page_with_operators_in_one_query(django_assert_num_queries):
    for _ in range(5):
        SupportRequestFactory(status=Status.IN_PROGRESS, operator=OperatorFactory())

    with django_assert_num_queries(1):
        rows = list(list_requests())
        names = [row.operator.name for row in rows]
        turns = [row.waiting_on for row in rows]

    assert len(names) == len(turns) == 5


def test_get_request_returns_the_request_with_its_operator(django_assert_num_queries):
    holder = OperatorFactory(name="Alice")
    support_request = SupportRequestFactory(status=Status.IN_PROGRESS, operator=holder)

    with django_assert_num_queries(1):
        found = get_request(request_id=support_request.pk)
        assert found.operator.name == "Alice"


def test_get_request_of_a_missing_id_is_none():
    assert get_request(request_id=123456) is None
    assert get_request(request_id=2**70) is None


def test_request_exists():
    support_request = SupportRequestFactory()

    assert request_exists(request_id=support_request.pk)
    assert not request_exists(request_id=support_request.pk + 1000)
