"""The list's deterministic cost proxies: queries per page, and on PostgreSQL the index
each ordering, deep page and search is planned on."""

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from messages_app.tests.factories import InboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.counts import CountedRows
from requests_app.filters import (
    ORDERING_FIELDS,
    SupportRequestFilter,
    sorted_not_walked,
    walked_no_further_than,
)
from requests_app.models import SupportRequest
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


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("ordering", "walk_min", "queries"),
    [
        ("subject", 1, 6),  # the walk finds the page
        ("-subject", 1, 6),  # the walk finds too few: sorted
        ("subject", 5, 4),  # a walk would read as many rows as there are matches: sorted
    ],
)
def test_a_page_of_many_matches_by_subject_costs_at_most_three_more_queries(
    operator_client, django_assert_num_queries, monkeypatch, ordering, walk_min, queries
):
    # 5 matches of 6 requests, a page of 1: spread evenly, the first match would be about
    # the 2nd request, so the walk may read 4 (the first 4 by subject).
    monkeypatch.setattr("requests_app.counts.SORTED_SEARCH_MAX", 0)
    monkeypatch.setattr("requests_app.counts.WALK_MIN", walk_min)
    for n in range(6):
        SupportRequestFactory(subject=f"Printer {n}" if n else "Scanner")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE requests_app_supportrequest")

    # Authentication, the count, the table's size (statistics); the walk's bound and the
    # walk; the page's rows (found by the walk, or sorted from the matches).
    with django_assert_num_queries(queries):
        response = operator_client.get(
            LIST, {"search": "printer", "ordering": ordering, "page_size": 1}
        )
    assert [r["subject"] for r in response.json()["results"]] == [
        "Printer 5" if ordering.startswith("-") else "Printer 1"
    ]


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


def _explained(queryset) -> str:
    with connection.cursor() as cursor:
        # A handful of test rows would be read whole and sorted; with both made costly the
        # planner shows which index, if any, hands it the rows in the page's order, as it
        # does for a million rows.
        cursor.execute("SET enable_seqscan = off; SET enable_sort = off")
        try:
            return queryset.explain()
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_sort")


def _plan(params: dict, *, page: slice = slice(0, 50)) -> str:
    request = APIRequestFactory().get(LIST, params)
    filterset = SupportRequestFilter(request.GET, queryset=list_request_ids())
    assert filterset.is_valid()
    return _explained(CountedRows(filterset.qs, filters={})[page])


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


def _counted_plan(params: dict) -> str:
    """The plan of page 1 as the list reads it: counted first, with the search's count."""
    request = APIRequestFactory().get(LIST, params)
    filterset = SupportRequestFilter(request.GET, queryset=list_request_ids())
    assert filterset.is_valid()
    rows = CountedRows(filterset.qs, filters={"search": params.get("search")})
    rows.count()
    return _explained(rows[0:50])


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("params", "index", "sorted_when_few"),
    [
        ({"search": "printer jams", "status": "new", "ordering": "subject"}, "subject_id", True),
        ({"search": "printer", "ordering": "-subject"}, "subject_id", True),
        ({"search": "printer", "ordering": "-requester_email"}, "requester_id", False),
        ({"search": "printer", "ordering": "-operator"}, "operator_name_id", False),
        ({"search": "printer", "ordering": "last_message_at"}, "last_message", False),
        ({"search": "printer"}, "created", False),
    ],
)
def test_a_search_ordered_by_subject_sorts_few_matches(monkeypatch, params, index, sorted_when_few):
    # A word of many subjects sits in subjects that sort together, maybe far along
    # ("Laptop ..." after "Access ..."): a walk of the subject index reads every earlier
    # request. With few matches, the count (read first) says so, and the page is read from
    # the search's indexes and sorted. (u0: the page's ids; its rows are then read by id.)
    walked = f"using request_{index} on requests_app_supportrequest u0"
    support_request = SupportRequestFactory(subject="Printer")
    InboundMessageFactory(request=support_request, body="the printer jams")

    few = _counted_plan(params)

    assert (walked not in few) is sorted_when_few, few
    if sorted_when_few:
        assert "Sort Key: " in few, few

    # Many matches: most pages fill after a short walk, which costs less than sorting them
    # (here a walk allowed further than the table, so not bounded).
    monkeypatch.setattr("requests_app.counts.SORTED_SEARCH_MAX", 0)
    monkeypatch.setattr(CountedRows, "_walk_budget", lambda self, index: 1_000)
    many = _counted_plan(params)

    assert walked in many, many


@pytest.mark.postgres
@pytest.mark.parametrize(
    "ordering",
    [
        *(f"{sign}{name}" for name in ORDERING_FIELDS for sign in ("", "-")),
        "status,-subject",
        "-operator,created_at",
    ],
)
def test_sorted_not_walked_keeps_the_order_row_for_row(ordering):
    # Ties on every column and NULL operators and times, ordered by the same rules.
    holder = OperatorFactory(name="Ann")
    at = timezone.now()
    for n in range(12):
        SupportRequestFactory(
            subject=f"Printer {n % 3}",
            taken=n % 4 == 0,
            closed=n % 4 == 2,
            operator=holder if n % 4 == 0 else None,
            last_message_at=None if n % 5 == 0 else at,
            created_at=at,
        )
    SupportRequestFactory(subject="Scanner")
    params = {"search": "printer", "ordering": ordering}
    filterset = SupportRequestFilter(APIRequestFactory().get(LIST, params).GET, list_request_ids())
    assert filterset.is_valid()
    ids = filterset.qs.values_list("pk", flat=True)

    def pages(queryset) -> list[list[int]]:
        return [list(queryset[start : start + 5]) for start in (0, 5, 10)]

    assert str(sorted_not_walked(ids).query) != str(ids.query)  # another sort key
    assert pages(sorted_not_walked(ids)) == pages(ids)
    assert sorted(pk for page in pages(ids) for pk in page) == sorted(
        r.pk for r in SupportRequest.objects.exclude(subject="Scanner")
    )


@pytest.mark.postgres
@pytest.mark.parametrize("ordering", ["subject", "-subject", "subject,-requester_email"])
def test_a_sorted_page_of_the_list_is_the_walked_page(monkeypatch, ordering):
    at = timezone.now()
    for n in range(12):
        SupportRequestFactory(
            subject=f"Printer {n % 3}",
            requester_email=f"r{n % 2}@example.com",
            created_at=at,
            closed=n >= 2,
        )
    params = {"search": "printer", "ordering": ordering}
    filterset = SupportRequestFilter(APIRequestFactory().get(LIST, params).GET, list_request_ids())
    assert filterset.is_valid()

    def pages(sorted_at_most: int) -> list[list[int]]:
        monkeypatch.setattr("requests_app.counts.SORTED_SEARCH_MAX", sorted_at_most)
        rows = CountedRows(filterset.qs, filters=params)
        assert rows.count() == 12
        return [[row[0] for row in rows[start : start + 5]] for start in (0, 5, 10)]

    assert pages(10_000) == pages(0)


def _pages(monkeypatch, params: dict, *, sorted_at_most: int, walk_max: int) -> list[list[int]]:
    monkeypatch.setattr("requests_app.counts.SORTED_SEARCH_MAX", sorted_at_most)
    monkeypatch.setattr(CountedRows, "_walk_budget", lambda self, index: walk_max)
    filterset = SupportRequestFilter(APIRequestFactory().get(LIST, params).GET, list_request_ids())
    assert filterset.is_valid()
    rows = CountedRows(filterset.qs, filters=params)
    rows.count()
    return [[row[0] for row in rows[start : start + 2]] for start in range(0, rows.count(), 2)]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("ordering", "walk_max", "walked_pages"),
    [
        # Too short for any page; long enough for the first pages (12 printers sort
        # first, 6 scanners last); no shorter than the table, so not bounded.
        ("subject", 1, 0),
        ("subject", 9, 4),
        ("-subject", 9, 1),
        ("-subject", 18, 0),
    ],
)
def test_a_page_found_by_a_short_walk_is_the_page_of_the_whole_list(
    monkeypatch, ordering, walk_max, walked_pages
):
    # Many matches, spread over the order, subjects tied: with more matches than are worth
    # sorting, the first requests in the list's order are walked; a page they fill
    # is answered, any other is sorted from the matches.
    at = timezone.now()
    for n in range(18):
        word = "Printer" if n % 3 else "Scanner"
        SupportRequestFactory(subject=f"{word} {n % 4}", created_at=at)
    params = {"search": "printer", "ordering": ordering}
    walked = []
    full_page = CountedRows._full_page

    def spy(self, walked_rows, index):
        page = full_page(self, walked_rows, index)
        walked.append(page is not None)
        return page

    monkeypatch.setattr(CountedRows, "_full_page", spy)

    pages = _pages(monkeypatch, params, sorted_at_most=0, walk_max=walk_max)

    assert pages == _pages(monkeypatch, params, sorted_at_most=10_000, walk_max=walk_max)
    assert len(pages) == 6
    assert sum(walked) == walked_pages, walked


@pytest.mark.postgres
@pytest.mark.parametrize(("ordering", "operator"), [("subject", "<="), ("-subject", ">=")])
def test_a_short_walk_stops_at_its_bound_in_the_index(ordering, operator):
    for n in range(3):
        SupportRequestFactory(subject=f"Printer {n}")
    request = APIRequestFactory().get(LIST, {"search": "printer", "ordering": ordering})
    filterset = SupportRequestFilter(request.GET, queryset=list_request_ids())
    assert filterset.is_valid()

    walked = walked_no_further_than(filterset.qs.values_list("pk", flat=True), 2)
    assert walked is not None
    plan = _explained(walked[0:50])

    assert "using request_subject_id on" in plan, plan
    index_condition = next(line for line in plan.splitlines() if "Index Cond:" in line)
    assert f"ROW((subject)::text, id) {operator} ROW(" in index_condition, plan


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("ordering", "bounded"),
    [
        ("subject", True),
        ("-created_at", True),
        ("requester_email", True),
        ("subject,-requester_email", False),
        ("-subject,id", False),
        ("operator", False),  # NULLs placed explicitly: not the index's order as such
    ],
)
def test_only_an_order_of_one_column_and_its_tiebreak_has_a_short_walk(ordering, bounded):
    SupportRequestFactory.create_batch(3)
    request = APIRequestFactory().get(LIST, {"ordering": ordering})
    filterset = SupportRequestFilter(request.GET, queryset=list_request_ids())
    assert filterset.is_valid()
    ids = filterset.qs.values_list("pk", flat=True)

    assert (walked_no_further_than(ids, 2) is not None) is bounded
    # A table no longer than the walk: nothing to bound.
    assert walked_no_further_than(ids, 3) is None


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("page", "budget"),
    [
        # 100 requests, 40 matches: spread evenly, the 2nd match is the 5th request.
        (slice(0, 2), 10),
        (slice(2, 4), 20),
        (slice(0, 1), 6),
        # A walk longer than the matches costs more than sorting them.
        (slice(8, 10), None),
    ],
)
def test_a_walk_may_read_twice_what_spread_matches_need(monkeypatch, page, budget):
    monkeypatch.setattr("requests_app.counts.WALK_MIN", 1)
    SupportRequest.objects.bulk_create(SupportRequestFactory.build() for _ in range(100))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE requests_app_supportrequest")
    rows = CountedRows(list_request_ids(), filters={})
    rows.counted = 40

    assert rows._walk_budget(page) == budget
