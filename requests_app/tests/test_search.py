"""The list's `search`: subject and address substrings, and words in the messages' text."""

import re

import pytest
from django.db import connection

from messages_app.models import Kind
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from requests_app.models import SupportRequest
from requests_app.services import add_note
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"


def found(client, text: str) -> list[int]:
    response = client.get(LIST, {"search": text, "ordering": "id"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["results"])
    return [r["id"] for r in body["results"]]


def test_search_finds_words_in_the_mail_text(operator_client):
    printer = SupportRequestFactory(subject="Help")
    InboundMessageFactory(request=printer, body="The printer jams on every page.")
    vpn = SupportRequestFactory(subject="Help")
    OutboundMessageFactory(request=vpn, body="Please restart the VPN client.")

    assert found(operator_client, "printer") == [printer.pk]
    assert found(operator_client, "PRINTER jams") == [printer.pk]
    assert found(operator_client, "vpn") == [vpn.pk]
    assert found(operator_client, "printer vpn") == []
    assert found(operator_client, "toaster") == []


def test_search_finds_russian_words_in_the_mail_text(operator_client):
    support_request = SupportRequestFactory(subject="Вопрос")
    InboundMessageFactory(request=support_request, body="Принтер не печатает, помогите.")

    assert found(operator_client, "печатает") == [support_request.pk]
    assert found(operator_client, "сканер") == []


def test_search_ignores_the_case_of_russian_words(operator_client):
    # SQLite's own LIKE and lower() fold ASCII letters only: the embedded default folds
    # with Python's casefold (servicedesk.casefold), PostgreSQL by itself.
    support_request = SupportRequestFactory(
        subject="Вопрос по ПРИНТЕРУ", requester_email="фёдор@пример.рф"
    )
    InboundMessageFactory(request=support_request, body="Принтер не печатает, помогите.")
    scanner = SupportRequestFactory(subject="Сканер документов", requester_email="anna@example.com")

    assert found(operator_client, "принтер") == [support_request.pk]
    assert found(operator_client, "ПЕЧАТАЕТ") == [support_request.pk]
    assert found(operator_client, "Помогите") == [support_request.pk]
    # The subject's and the address's substrings, whatever the case of either.
    assert found(operator_client, "ВОПР") == [support_request.pk]
    assert found(operator_client, "принтеру") == [support_request.pk]
    assert found(operator_client, "ФЁДОР") == [support_request.pk]
    assert found(operator_client, "дОКУМЕНТ") == [scanner.pk]


def test_search_still_finds_subject_and_address_substrings(operator_client):
    by_subject = SupportRequestFactory(subject="Printer on floor 3")
    by_address = SupportRequestFactory(requester_email="jane.doe@corp.example")

    assert found(operator_client, "rinte") == [by_subject.pk]
    assert found(operator_client, "doe@corp") == [by_address.pk]
    assert found(operator_client, "floor printer") == [by_subject.pk]
    assert found(operator_client, "floor corp.example") == []


def test_each_word_may_be_in_the_subject_or_the_address(operator_client):
    support_request = SupportRequestFactory(subject="Printer", requester_email="jane@corp.example")
    SupportRequestFactory(subject="Printer", requester_email="john@corp.example")

    assert found(operator_client, "printer jane") == [support_request.pk]
    assert found(operator_client, "JANE@CORP.EXAMPLE printer") == [support_request.pk]


def test_a_changed_subject_is_searched_at_once(operator_client):
    support_request = SupportRequestFactory(subject="Printer")
    support_request.subject = "Scanner"
    support_request.save(update_fields=["subject"])

    assert found(operator_client, "printer") == []
    assert found(operator_client, "scanner") == [support_request.pk]


def test_a_request_matching_in_subject_and_text_is_counted_once(operator_client):
    support_request = SupportRequestFactory(subject="Printer")
    InboundMessageFactory(request=support_request, body="printer printer")
    InboundMessageFactory(request=support_request, body="the printer again")

    assert found(operator_client, "printer") == [support_request.pk]


def test_notes_are_found_and_automatic_notices_are_not(operator, operator_client):
    noted = SupportRequestFactory(subject="a")
    add_note(request_id=noted.pk, operator=operator, body="Customer called about the toner")
    notified = SupportRequestFactory(subject="b")
    OutboundMessageFactory(request=notified, kind=Kind.AUTO, body="We received your toner")

    assert found(operator_client, "toner") == [noted.pk]


@pytest.mark.parametrize(
    "text",
    [
        '"',
        "-",
        "a & b | !c",
        "'",
        ":*",
        "(((",
        "\\",
        "%",
        "_",
        # Past 32 operators with no word between them, websearch_to_tsquery fails.
        "-" * 33,
        "-" * 254,
        "- " * 35,
        "-! " * 35,
        "a " + "-" * 40,
    ],
)
@pytest.mark.parametrize("ordering", ["-created_at", "subject"])
def test_any_search_text_answers_200(operator_client, text, ordering):
    SupportRequestFactory(subject="100% done_now")

    response = operator_client.get(LIST, {"search": text, "ordering": ordering})

    assert response.status_code == 200


def test_a_quoted_phrase_is_found_in_the_subject_and_in_the_mail(operator_client):
    in_subject = SupportRequestFactory(subject="Printer on floor 3 is jamming")
    InboundMessageFactory(request=in_subject, body="Paper everywhere.")
    in_mail = SupportRequestFactory(subject="Help")
    InboundMessageFactory(request=in_mail, body="The printer on the second floor jams.")
    both_words_apart = SupportRequestFactory(subject="On the printer")
    InboundMessageFactory(request=both_words_apart, body="On it, the printer.")

    assert found(operator_client, '"printer on"') == [in_subject.pk, in_mail.pk]
    assert found(operator_client, '"PRINTER   on') == [in_subject.pk, in_mail.pk]
    assert found(operator_client, "printer on") == [
        in_subject.pk,
        in_mail.pk,
        both_words_apart.pk,
    ]


def test_a_minus_leaves_out_what_holds_the_word_in_the_subject_and_in_the_mail(
    operator_client,
):
    on_floor = SupportRequestFactory(subject="Printer on floor 3")
    InboundMessageFactory(request=on_floor, body="It jams.")
    in_kitchen = SupportRequestFactory(subject="Printer in the kitchen")
    InboundMessageFactory(request=in_kitchen, body="It jams.")
    by_mail = SupportRequestFactory(subject="Help")
    InboundMessageFactory(request=by_mail, body="The printer jams on the floor.")

    assert found(operator_client, "printer -floor") == [in_kitchen.pk]
    assert found(operator_client, "printer - floor") == [in_kitchen.pk]
    assert found(operator_client, "printer --floor") == [on_floor.pk, by_mail.pk]
    assert found(operator_client, 'jams -"the floor"') == [on_floor.pk, in_kitchen.pk]


def test_or_finds_requests_holding_either_side(operator_client):
    printer = SupportRequestFactory(subject="Printer jams")
    vpn = SupportRequestFactory(subject="Help")
    InboundMessageFactory(request=vpn, body="The VPN is down.")
    SupportRequestFactory(subject="Phone")
    either = [printer.pk, vpn.pk]

    assert found(operator_client, "printer or vpn") == either
    assert found(operator_client, "printer OR vpn") == either
    # An `or` that joins nothing is a word.
    assert found(operator_client, "printer or") == []


def test_a_search_its_parser_cannot_read_is_searched_by_its_words(operator_client):
    # A signature's dashes pasted with the word: the plain words are searched instead.
    printer = SupportRequestFactory(subject="Help")
    InboundMessageFactory(request=printer, body="The printer jams.\n\n" + "-" * 40)
    SupportRequestFactory(subject="Other")

    assert found(operator_client, "-" * 40 + " printer") == [printer.pk]
    assert found(operator_client, "printer " + "- " * 40) == [printer.pk]


@pytest.mark.parametrize(
    ("word", "literal", "other"),
    [
        ("0%", "100% done", "1000 done"),
        ("e_d", "file_d", "filexd"),
        ("c:\\t", "c:\\temp", "c:temp"),
    ],
)
def test_like_wildcards_are_matched_literally(operator_client, word, literal, other):
    matching = SupportRequestFactory(subject=literal)
    SupportRequestFactory(subject=other)

    assert found(operator_client, word) == [matching.pk]


def test_the_words_may_come_from_different_messages_of_a_request(operator_client):
    # The conversation is what is searched: a word of the first mail and one of a reply.
    support_request = SupportRequestFactory(subject="Help")
    InboundMessageFactory(request=support_request, body="The printer jams.")
    OutboundMessageFactory(request=support_request, body="Please send a screenshot.")
    InboundMessageFactory(body="A screenshot of something else")

    assert found(operator_client, "printer screenshot") == [support_request.pk]
    assert found(operator_client, "printer toaster") == []


@pytest.mark.parametrize("ordering", ["-created_at", "subject", "-operator"])
def test_a_search_with_another_filter_pages_through_every_match_once(operator_client, ordering):
    expected = []
    for n in range(7):
        support_request = SupportRequestFactory(
            subject=f"Printer {n}" if n % 2 else "Other", status="new"
        )
        InboundMessageFactory(request=support_request, body="jams" if n % 3 else "printer")
        if n % 2 or n % 3 == 0:
            expected.append(support_request.pk)
    params = {"search": "printer", "status": "new", "ordering": ordering, "page_size": 2}

    pages = [operator_client.get(LIST, {**params, "page": p}).json() for p in (1, 2, 3)]

    assert sorted(r["id"] for page in pages for r in page["results"]) == sorted(expected)
    assert {page["count"] for page in pages} == {len(expected)} == {5}


def _mail_words(request_id: int) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT mail_words::text FROM requests_app_supportrequest WHERE id = %s", [request_id]
        )
        return cursor.fetchone()[0]


def _lexemes(request_id: int) -> set[str]:
    words = _mail_words(request_id)
    return {item.split(":")[0].strip("'") for item in words.split()} if words else set()


@pytest.mark.postgres
def test_the_database_keeps_each_requests_mail_words(operator, operator_client):
    from messages_app.models import Message

    first, second = SupportRequestFactory(subject="a"), SupportRequestFactory(subject="b")
    # One statement for several requests, as a batch of mail arrives.
    Message.objects.bulk_create(
        [
            InboundMessageFactory.build(request=first, body="printer jams"),
            InboundMessageFactory.build(request=second, body="vpn drops"),
            InboundMessageFactory.build(request=first, body="toner low"),
            OutboundMessageFactory.build(request=first, kind=Kind.AUTO, body="received"),
        ]
    )
    add_note(request_id=second.pk, operator=operator, body="called back")

    assert _lexemes(first.pk) == {"printer", "jams", "toner", "low"}
    assert _lexemes(second.pk) == {"vpn", "drops", "called", "back"}

    # A message's text changes (re-parsing), then it goes.
    message = Message.objects.get(request=first, body="printer jams")
    message.body = "scanner jams"
    message.save(update_fields=["body"])
    assert _lexemes(first.pk) == {"scanner", "jams", "toner", "low"}
    message.delete()
    assert _lexemes(first.pk) == {"toner", "low"}
    Message.objects.filter(request=second).delete()
    assert _mail_words(second.pk) is None

    # Other changes to a message leave the words alone.
    Message.objects.filter(request=first).update(delivery_status=None)
    assert found(operator_client, "toner") == [first.pk]


@pytest.mark.postgres
def test_mail_words_stop_growing_before_the_size_a_tsvector_may_hold():
    # Two vectors of about 700 kB each: together they would pass the 1 MB limit (an error
    # that would refuse the mail); the words already kept stay, the new ones are left out.
    words = (
        "to_tsvector('simple', (SELECT string_agg('w' || i, ' ') FROM generate_series(%s, %s) i))"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT length(request_mail_words_concat({words}, {words})),"
            f" length(request_mail_words_concat({words}, {words}))",
            [1, 70_000, 70_001, 140_000, 1, 3, 3, 5],
        )
        assert cursor.fetchone() == (70_000, 5)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("status", "indexes"),
    [
        ({}, ["request_mail_words", "request_search_text_trgm"]),
        # The queue: the indexes of open requests alone, a fraction of the size.
        ({"status": "new"}, ["request_open_mail_words", "request_open_search_text_trgm"]),
        (
            {"status": "new,in_progress"},
            ["request_open_mail_words", "request_open_search_text_trgm"],
        ),
    ],
)
def test_search_reads_the_mail_words_and_trigram_indexes_on_postgresql(status, indexes):
    from requests_app.filters import SupportRequestFilter
    from requests_app.selectors import list_request_ids

    # Many open requests, none with the words, on many pages: the status alone narrows
    # little, and the planner reads the search's indexes, as it does on a real queue.
    SupportRequest.objects.bulk_create(
        SupportRequestFactory.build(subject=f"{n} {'Scanner ' * 60}", requester_email=f"r{n}@x.org")
        for n in range(300)
    )
    with connection.cursor() as cursor:
        # What VACUUM would do (it cannot run in the test's transaction): the GIN indexes'
        # pending entries merged, so the planner costs them as built.
        for index in indexes:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        cursor.execute("ANALYZE requests_app_supportrequest")
    # The rows of a count: the indexes of the condition, combined in one bitmap.
    params = {"search": "printer jams", **status}
    queryset = SupportRequestFilter(params, queryset=list_request_ids()).qs
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = queryset.order_by().explain()
        finally:
            cursor.execute("RESET enable_seqscan")

    used = set(re.findall(r"Bitmap Index Scan on (\w+)", plan))
    assert set(indexes) <= used, plan
    assert "messages_app_message" not in plan
    # The subject and the address are one stored column: no function of a column is
    # computed for each row the condition tests.
    assert "upper(" not in plan, plan
    assert "lower((" not in plan, plan
