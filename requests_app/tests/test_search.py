"""The list's `search`: subject and address substrings, and words in the messages' text."""

import pytest
from django.db import connection

from messages_app.models import Kind
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
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


@pytest.mark.postgres
def test_search_in_mail_text_ignores_the_case_of_russian_words(operator_client):
    # SQLite's LIKE folds the case of ASCII letters only; PostgreSQL's `simple` text
    # search lower-cases every alphabet.
    support_request = SupportRequestFactory(subject="Вопрос")
    InboundMessageFactory(request=support_request, body="Принтер не печатает, помогите.")

    assert found(operator_client, "принтер") == [support_request.pk]
    assert found(operator_client, "ПЕЧАТАЕТ") == [support_request.pk]


def test_search_still_finds_subject_and_address_substrings(operator_client):
    by_subject = SupportRequestFactory(subject="Printer on floor 3")
    by_address = SupportRequestFactory(requester_email="jane.doe@corp.example")

    assert found(operator_client, "rinte") == [by_subject.pk]
    assert found(operator_client, "doe@corp") == [by_address.pk]
    assert found(operator_client, "floor printer") == [by_subject.pk]


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


@pytest.mark.parametrize("text", ['"', "-", "a & b | !c", "'", ":*", "(((", "\\", "%", "_"])
def test_any_search_text_answers_200(operator_client, text):
    SupportRequestFactory(subject="100% done_now")

    assert operator_client.get(LIST, {"search": text}).status_code == 200


def test_like_wildcards_are_matched_literally(operator_client):
    literal = SupportRequestFactory(subject="100% done")
    SupportRequestFactory(subject="1000 done")

    assert found(operator_client, "0%") == [literal.pk]


@pytest.mark.postgres
def test_search_uses_the_text_and_trigram_indexes_on_postgresql(operator_client):
    from requests_app.filters import SupportRequestFilter
    from requests_app.selectors import list_request_rows

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    queryset = SupportRequestFilter({"search": "printer jams"}, queryset=list_request_rows()).qs
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = queryset.explain()
        finally:
            cursor.execute("RESET enable_seqscan")

    assert "message_search" in plan
    assert "request_subject_trgm" in plan
    assert "request_requester_trgm" in plan
