"""Reads of requests: one query for a page, the operator joined, nothing per row; the
operators' workloads from the open requests' index."""

import pytest
from django.db import connection

from operators_app.tests.factories import OperatorFactory
from requests_app.models import Status, SupportRequest
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
def test_each_operators_workload_is_counted_by_an_index_lookup_of_its_requests():
    # A join and an aggregate let PostgreSQL read every request and group them (it did, at
    # 100,000 requests: 90 ms); a subquery per operator is an index lookup of its requests
    # (at scale, of its open ones only: `request_desk_waiting_operator`, 4 ms).
    alice, bob = OperatorFactory(), OperatorFactory()
    SupportRequest.objects.bulk_create(
        SupportRequestFactory.build_batch(300, closed=True, operator=alice)
        + SupportRequestFactory.build_batch(300, status=Status.IN_PROGRESS, operator=bob)
    )
    SupportRequestFactory.create_batch(3, status=Status.IN_PROGRESS, operator=alice)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE requests_app_supportrequest")
        # A few hundred rows would be read whole; with that made costly the planner shows
        # which index it reaches them by, as it does for a million rows.
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = list_operators().explain()
        finally:
            cursor.execute("RESET enable_seqscan")

    assert "SubPlan" in plan, plan
    assert "Index Cond: (operator_id = operators_app_operator.id)" in plan, plan
