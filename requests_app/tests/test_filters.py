"""Filters and orderings of GET /api/v1/requests/, on whichever database the suite runs."""

import datetime

import pytest
from django.http import QueryDict

from operators_app.tests.factories import OperatorFactory
from requests_app.filters import ORDERING_FIELDS, SupportRequestFilter
from requests_app.models import Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"
UTC = datetime.UTC


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def get(client, **params):
    return client.get(LIST, params)


@pytest.fixture
def by_status(operator):
    return {
        Status.NEW: SupportRequestFactory(),
        Status.IN_PROGRESS: SupportRequestFactory(status=Status.IN_PROGRESS, operator=operator),
        Status.CLOSED: SupportRequestFactory(closed=True),
    }


# --- status ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", Status.values)
def test_status_filters_by_one_status(operator_client, by_status, status):
    assert ids(get(operator_client, status=status)) == [by_status[status].pk]


def test_status_takes_several_comma_separated(operator_client, by_status):
    found = ids(get(operator_client, status="new,in_progress"))

    assert sorted(found) == sorted([by_status[Status.NEW].pk, by_status[Status.IN_PROGRESS].pk])


def test_status_ignores_spaces_around_its_items(operator_client, by_status):
    found = ids(get(operator_client, status=" new , closed"))

    assert sorted(found) == sorted([by_status[Status.NEW].pk, by_status[Status.CLOSED].pk])


@pytest.mark.parametrize("name", ["status", "ordering"])
@pytest.mark.parametrize("value", ["", " ", "new,,closed", "new,", ",id"])
def test_an_empty_item_of_an_array_parameter_answers_400(operator_client, by_status, name, value):
    response = operator_client.get("/api/v1/requests/", {name: value})

    assert response.status_code == 400
    assert set(response.json()) == {name}


def test_without_status_every_request_is_listed(operator_client, by_status):
    assert len(ids(get(operator_client))) == 3


@pytest.mark.parametrize("value", ["open", "NEW", "new,done", "in progress", "new\x00"])
def test_unknown_status_is_a_400_naming_the_parameter(operator_client, by_status, value):
    response = get(operator_client, status=value)

    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    assert isinstance(response.json()["status"], list)


# --- operator -------------------------------------------------------------------------


def test_operator_filters_by_operator_id(operator_client, operator, by_status):
    other = OperatorFactory()
    SupportRequestFactory(status=Status.IN_PROGRESS, operator=other)

    assert ids(get(operator_client, operator=operator.pk)) == [by_status[Status.IN_PROGRESS].pk]


@pytest.mark.parametrize("value", ["none", "None", "NONE"])
def test_operator_none_finds_unassigned_requests(operator_client, by_status, value):
    found = ids(get(operator_client, operator=value))

    assert sorted(found) == sorted([by_status[Status.NEW].pk, by_status[Status.CLOSED].pk])


def test_operator_id_nobody_has_finds_nothing(operator_client, by_status):
    assert ids(get(operator_client, operator=987654)) == []


@pytest.mark.parametrize("value", ["alice", "-1", "0", "1.0", "99999999999999999999", "\u0663"])
def test_operator_that_is_neither_an_id_nor_none_is_a_400(operator_client, value):
    response = get(operator_client, operator=value)

    assert response.status_code == 400
    assert list(response.json()) == ["operator"]


# --- requester_email ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["jane@example.com", "Jane@Example.COM", " JANE@EXAMPLE.COM "])
def test_requester_email_matches_case_insensitively(operator_client, value):
    jane = SupportRequestFactory(requester_email="jane@example.com")
    SupportRequestFactory(requester_email="janet@example.com")

    assert ids(get(operator_client, requester_email=value)) == [jane.pk]


def test_requester_email_is_exact_not_a_substring(operator_client):
    SupportRequestFactory(requester_email="jane@example.com")

    assert ids(get(operator_client, requester_email="jane@example")) == []


# --- search ---------------------------------------------------------------------------


def test_search_finds_words_in_the_subject_case_insensitively(operator_client):
    printer = SupportRequestFactory(subject="Printer is broken")
    SupportRequestFactory(subject="VPN is down")

    assert ids(get(operator_client, search="PRINTER")) == [printer.pk]


def test_search_finds_words_in_the_requester_address(operator_client):
    jane = SupportRequestFactory(subject="Hello", requester_email="jane.doe@acme.example")
    SupportRequestFactory(subject="Hello", requester_email="bob@other.example")

    assert ids(get(operator_client, search="acme")) == [jane.pk]


def test_search_needs_every_word_in_the_subject_or_the_address(operator_client):
    both = SupportRequestFactory(subject="Printer jams", requester_email="jane@acme.example")
    SupportRequestFactory(subject="Printer jams", requester_email="bob@other.example")
    SupportRequestFactory(subject="Scanner", requester_email="ann@acme.example")

    assert ids(get(operator_client, search="printer acme")) == [both.pk]


def test_search_treats_like_wildcards_literally(operator_client):
    percent = SupportRequestFactory(subject="Disk 100% full")
    SupportRequestFactory(subject="Disk 1000 full")

    assert ids(get(operator_client, search="100%")) == [percent.pk]


def test_search_with_a_nul_character_is_a_400(operator_client):
    response = get(operator_client, search="printer\x00")

    assert response.status_code == 400
    assert list(response.json()) == ["search"]


# --- created_after / created_before ---------------------------------------------------


@pytest.fixture
def timeline():
    return {
        "early": SupportRequestFactory(created_at=at(2026, 11, 19, 23, 0)),
        "morning": SupportRequestFactory(created_at=at(2026, 11, 20, 10, 15)),
        "evening": SupportRequestFactory(created_at=at(2026, 11, 20, 20, 0)),
    }


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T10:15:00Z",
        "2026-11-20t10:15:00z",
        "2026-11-20T10:15:00+00:00",
        "2026-11-20T13:15:00+03:00",
        "2026-11-20T15:45:00.000+05:30",
        "2026-11-20T02:15:00-08:00",
        "2026-11-20T13:15:00 03:00",  # an unencoded "+" arrives as a space
        "2026-11-20T10:15:00",  # no offset: UTC
    ],
)
def test_created_after_accepts_any_rfc3339_offset_inclusively(operator_client, timeline, value):
    found = ids(get(operator_client, created_after=value, ordering="created_at"))

    assert found == [timeline["morning"].pk, timeline["evening"].pk]


@pytest.mark.parametrize(
    "value", ["2026-11-20T10:15:00Z", "2026-11-20T11:15:00+01:00", "2026-11-20T05:15:00-05:00"]
)
def test_created_before_is_strictly_before_with_any_offset(operator_client, timeline, value):
    assert ids(get(operator_client, created_before=value)) == [timeline["early"].pk]


def test_a_date_stands_for_its_midnight_utc(operator_client, timeline):
    after = ids(get(operator_client, created_after="2026-11-20", ordering="created_at"))
    before = ids(get(operator_client, created_before="2026-11-20"))

    assert after == [timeline["morning"].pk, timeline["evening"].pk]
    assert before == [timeline["early"].pk]


def test_created_after_and_before_together_make_a_window(operator_client, timeline):
    found = ids(
        get(
            operator_client,
            created_after="2026-11-20T00:00:00Z",
            created_before="2026-11-20T12:00:00+00:00",
        )
    )

    assert found == [timeline["morning"].pk]


def test_times_outside_the_representable_range_filter_instead_of_failing(operator_client, timeline):
    everything = ids(get(operator_client, created_after="0001-01-01T00:00:00+05:00"))
    nothing = ids(get(operator_client, created_after="9999-12-31T23:59:59-05:00"))

    assert len(everything) == 3
    assert nothing == []


def test_a_leap_second_is_accepted(operator_client, timeline):
    found = ids(get(operator_client, created_after="2026-11-19T23:59:60Z", ordering="created_at"))

    assert found == [timeline["morning"].pk, timeline["evening"].pk]


def test_a_fraction_past_microseconds_counts_as_the_next_microsecond(operator_client, timeline):
    # The morning request was created at 10:15:00.000000 exactly: it is after a time
    # 0.5 us before, and before (not after) a time 0.1 us later.
    after_a_bit_earlier = get(operator_client, created_after="2026-11-20T10:14:59.9999995Z")
    after_a_bit_later = get(operator_client, created_after="2026-11-20T10:15:00.0000001Z")
    before_a_bit_later = get(operator_client, created_before="2026-11-20T10:15:00.0000001Z")

    assert timeline["morning"].pk in ids(after_a_bit_earlier)
    assert timeline["morning"].pk not in ids(after_a_bit_later)
    assert timeline["morning"].pk in ids(before_a_bit_later)
    assert timeline["morning"].pk not in ids(
        get(operator_client, created_before="2026-11-20T10:15:00.0000000Z")
    )


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-01",
        "2026-11-31",
        "2026-11-20T25:00:00Z",
        "2026-11-20T10:15:00+24:00",
        "2026-11-20T10:15:00Z\x00",
        "20261",
        "1e10",
        # ISO 8601 shapes that are not RFC 3339 (Python reads them all).
        "20261120",
        "2026-W47",
        "2026-W47-5",
        "2026-324",
        "2026-11-20T101500Z",
        "2026-11-20T13:15:00+0300",
        "2026-11-20T13:15:00+03",
    ],
)
@pytest.mark.parametrize("parameter", ["created_after", "created_before"])
def test_an_invalid_time_is_a_400_never_a_500(operator_client, parameter, value):
    response = get(operator_client, **{parameter: value})

    assert response.status_code == 400
    assert list(response.json()) == [parameter]


# --- ordering -------------------------------------------------------------------------


@pytest.fixture
def ordered(db):
    alice = OperatorFactory(name="Alice")
    bob = OperatorFactory(name="Bob")
    # subject, requester, status, holder, created on and last message on (days of January)
    rows = [
        ("b subject", "c@example.com", Status.IN_PROGRESS, bob, 2, 5),
        ("a subject", "b@example.com", Status.NEW, None, 3, 4),
        ("c subject", "a@example.com", Status.IN_PROGRESS, alice, 1, 6),
    ]
    return [
        SupportRequestFactory(
            subject=subject,
            requester_email=requester,
            status=status,
            operator=holder,
            created_at=at(2026, 1, created),
            last_message_at=at(2026, 1, last_message),
        )
        for subject, requester, status, holder, created, last_message in rows
    ]


def test_default_ordering_is_newest_first(operator_client, ordered):
    assert ids(get(operator_client)) == [ordered[1].pk, ordered[0].pk, ordered[2].pk]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("created_at", [2, 0, 1]),
        ("-created_at", [1, 0, 2]),
        ("subject", [1, 0, 2]),
        ("-subject", [2, 0, 1]),
        ("requester_email", [2, 1, 0]),
        ("-requester_email", [0, 1, 2]),
        ("last_message_at", [1, 0, 2]),
        ("-last_message_at", [2, 0, 1]),
        ("operator", [2, 0, 1]),  # Alice, Bob, then unassigned
        ("-operator", [1, 0, 2]),  # unassigned, Bob, Alice
        ("status,created_at", [2, 0, 1]),  # in_progress (oldest first), then new
        ("-status,-created_at", [1, 0, 2]),
    ],
)
def test_ordering_by_each_field_in_both_directions(operator_client, ordered, ordering, expected):
    assert ids(get(operator_client, ordering=ordering)) == [ordered[i].pk for i in expected]


@pytest.mark.parametrize("field", ORDERING_FIELDS)
@pytest.mark.parametrize("sign", ["", "-"])
def test_every_listed_ordering_field_is_accepted(operator_client, ordered, field, sign):
    assert len(ids(get(operator_client, ordering=sign + field))) == 3


def test_id_ordering_in_both_directions(operator_client, ordered):
    pks = sorted(r.pk for r in ordered)

    assert ids(get(operator_client, ordering="id")) == pks
    assert ids(get(operator_client, ordering="-id")) == pks[::-1]


def test_ties_are_broken_by_id_in_the_direction_of_the_last_field(operator_client):
    same_time = at(2026, 2, 1)
    tied = [SupportRequestFactory(created_at=same_time) for _ in range(4)]
    pks = [r.pk for r in tied]

    assert ids(get(operator_client, ordering="created_at")) == sorted(pks)
    assert ids(get(operator_client, ordering="-created_at")) == sorted(pks, reverse=True)


def test_pages_of_tied_requests_neither_repeat_nor_skip(operator_client):
    same_time = at(2026, 2, 1)
    pks = {SupportRequestFactory(created_at=same_time, subject="same").pk for _ in range(7)}

    seen = []
    for page in (1, 2, 3, 4):
        seen += ids(get(operator_client, ordering="subject", page_size=2, page=page))

    assert sorted(seen) == sorted(pks)


def test_several_ordering_fields_and_spaces(operator_client, ordered):
    found = ids(get(operator_client, ordering=" status , -last_message_at "))

    assert found == [ordered[2].pk, ordered[0].pk, ordered[1].pk]


@pytest.mark.parametrize(
    "value", ["priority", "-priority", "created_at,unknown", "operator__name", "--id", "?"]
)
def test_unknown_ordering_field_is_a_400(operator_client, value):
    response = get(operator_client, ordering=value)

    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]


def test_filters_and_ordering_combine(operator_client, ordered):
    found = ids(get(operator_client, status="in_progress", ordering="-last_message_at"))

    assert found == [ordered[2].pk, ordered[0].pk]


def test_several_invalid_parameters_are_reported_together(operator_client):
    response = get(operator_client, status="open", ordering="nope", created_after="x")

    assert response.status_code == 400
    assert set(response.json()) == {"status", "ordering", "created_after"}


def test_each_filterset_gets_its_own_filters_bound_to_it():
    first = SupportRequestFilter(QueryDict("search=printer"), queryset=SupportRequest.objects.all())
    second = SupportRequestFilter(QueryDict(), queryset=SupportRequest.objects.all())

    for name, base in SupportRequestFilter.base_filters.items():
        assert first.filters[name] is not base
        assert first.filters[name] is not second.filters[name]
        assert getattr(base, "parent", None) is None
        assert first.filters[name].parent is first
    # A method= filter calls the method of its own FilterSet.
    assert first.filters["search"].filter.f is first.filters["search"]
    assert first.filters["search"].filter.method == first.filter_search
