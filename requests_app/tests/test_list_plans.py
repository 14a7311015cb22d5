"""The list's deterministic cost proxies: queries per page, and on PostgreSQL the index
each ordering, deep page and search is planned on."""

import pytest
from django.db import connection
from rest_framework.test import APIRequestFactory

from messages_app.tests.factories import InboundMessageFactory
from requests_app.counts import CountedRows
from requests_app.filters import SupportRequestFilter
from requests_app.selectors import list_request_ids
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"search": "printer"},
        {"search": "printer jams", "status": "new", "ordering": "subject"},
        {"ordering": "-operator", "page": "2", "page_size": "2"},
    ],
)
def test_a_page_costs_the_same_queries_whatever_its_size(
    operator_client, django_assert_num_queries, params
):
    for n in range(6):
        support_request = SupportRequestFactory(subject=f"Printer {n}")
        InboundMessageFactory(request=support_request, body="the printer jams")

    # Authentication, the count, the page.
    with django_assert_num_queries(3):
        response = operator_client.get(LIST, params)
    assert response.status_code == 200


def test_a_deep_page_answers_the_same_rows_as_an_offset(operator_client):
    for n in range(7):
        SupportRequestFactory(subject=f"s{n % 3}")

    pages = [
        operator_client.get(LIST, {"ordering": "subject", "page_size": 2, "page": p}).json()
        for p in (1, 2, 3, 4)
    ]

    ids = [r["id"] for page in pages for r in page["results"]]
    expected = [
        r["id"] for r in operator_client.get(LIST, {"ordering": "subject"}).json()["results"]
    ]
    assert ids == expected


def _plan(params: dict, *, page: slice = slice(0, 50)) -> str:
    request = APIRequestFactory().get(LIST, params)
    filterset = SupportRequestFilter(request.GET, queryset=list_request_ids())
    assert filterset.is_valid()
    rows = CountedRows(filterset.qs, filters={})[page]
    with connection.cursor() as cursor:
        # A handful of test rows would be read whole and sorted; with both made costly the
        # planner shows which index, if any, hands it the rows in the page's order, as it
        # does for a million rows.
        cursor.execute("SET enable_seqscan = off; SET enable_sort = off")
        try:
            return rows.explain()
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_sort")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({}, "request_created"),
        ({"ordering": "subject"}, "request_subject_id"),
        ({"ordering": "-subject"}, "request_subject_id"),
        ({"ordering": "requester_email"}, "request_requester_id"),
        ({"ordering": "status"}, "request_status_id"),
        ({"ordering": "-updated_at"}, "request_updated"),
        ({"ordering": "last_message_at"}, "request_last_message"),
        ({"ordering": "operator"}, "request_operator_name_id"),
        ({"ordering": "-operator"}, "request_operator_name_id"),
        ({"status": "closed", "ordering": "-updated_at"}, "request_status_updated"),
    ],
)
def test_each_ordering_reads_a_deep_page_from_its_index(params, index):
    SupportRequestFactory()

    plan = _plan(params, page=slice(49_950, 50_000))

    assert f"using {index} on" in plan, plan


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({"search": "printer"}, "request_created"),
        ({"search": "printer jams", "status": "new", "ordering": "subject"}, "request_subject_id"),
        (
            {"search": "laptop", "status": "closed", "ordering": "-updated_at"},
            "request_status_updated",
        ),
        ({"search": "vpn", "ordering": "-operator"}, "request_operator_name_id"),
    ],
)
def test_a_search_is_one_condition_on_the_requests_own_row(params, index):
    # The mail's words are on the request (`mail_words`): a search reads no message, and
    # combines with the other filters and the ordering's index like any other condition.
    support_request = SupportRequestFactory(subject="Printer")
    InboundMessageFactory(request=support_request, body="the printer jams")

    plan = _plan(params)

    assert f"using {index} on" in plan, plan
    assert "mail_words @@" in plan, plan
    assert "messages_app_message" not in plan, plan
