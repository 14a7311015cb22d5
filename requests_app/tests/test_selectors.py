"""Reads of requests: one query for a page, the operator joined, nothing per row; the
operators' workloads from the open requests' index."""

import pytest
from django.db import connection

from operators_app.tests.factories import OperatorFactory
from requests_app.models import Status
from requests_app.selectors import get_request, list_operators, list_requests, request_exists
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


def test_operators_count_the_requests_they_hold_open():
    alice, bob = OperatorFactory(name="Alice"), OperatorFactory(name="Bob")
    SupportRequestFactory.create_batch(2, status=Status.IN_PROGRESS, operator=alice)
    SupportRequestFactory(closed=True, operator=alice)
    SupportRequestFactory(closed=True, operator=bob)

    assert [(o.name, o.open_requests) for o in list_operators()] == [("Alice", 2), ("Bob", 0)]


@pytest.mark.postgres
def test_operators_workloads_are_read_from_the_open_requests_index():
    # Written as any other status test, the join would not match the partial index's
    # predicate and PostgreSQL would read every request, closed ones included.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = list_operators().explain()
        finally:
            cursor.execute("RESET enable_seqscan")

    assert "Index Only Scan using request_desk_waiting_operator" in plan, plan
    assert "Seq Scan on requests_app_supportrequest" not in plan
