"""ingest_batch: parsing, routing, idempotency, loop protection and what is stored."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from messages_app.errors import IngestUnavailableError
from messages_app.inbound.ingest import InboundItem, Outcome, ingest_batch
from messages_app.models import DeliveryStatus, Direction, Kind, Message, Route
from messages_app.parsing import mime
from messages_app.tasks import deliver_message_task
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from requests_app import services
from requests_app.models import Party, Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory
from testing.mail import AUTOMATIC_MAIL_FIXTURES, fixture_bytes, make_mail

pytestmark = pytest.mark.django_db


def raw(data: bytes, external_id: str | None = None, index: int = 0) -> InboundItem:
    return InboundItem(index=index, external_id=external_id, raw=data)


def fields(index: int = 0, external_id: str | None = None, **values) -> InboundItem:
    values.setdefault("user_email", "jane@example.com")
    return InboundItem(index=index, external_id=external_id, fields=values)


def ingest(*items: InboundItem):
    numbered = [
        InboundItem(i, item.external_id, item.raw, item.fields, item.errors)
        for i, item in enumerate(items)
    ]
    return ingest_batch(items=numbered)


def acknowledgements(support_request=None):
    queryset = Message.objects.filter(direction=Direction.OUTBOUND, kind=Kind.AUTO)
    return queryset.filter(request=support_request) if support_request else queryset


@pytest.fixture
def published(monkeypatch):
    """The ids handed to Celery, in order, without running the task."""
    ids = []
    monkeypatch.setattr(deliver_message_task, "delay", ids.append)
    return ids


# --- storing ---------------------------------------------------------------------------


def test_first_mail_opens_a_request_and_stores_every_field():
    [result] = ingest(raw(fixture_bytes("gmail_reply.eml"), "gmail-17"))
    assert result.outcome == Outcome.CREATED
    support_request = SupportRequest.objects.get(pk=result.request_id)
    assert support_request.status == Status.NEW
    assert support_request.requester_email == "jane.doe@gmail.com"
    assert support_request.requester_name == "Jane Doe"
    # The request is about the printer; the mail keeps the subject it came with.
    assert support_request.subject == "Printer is broken"
    message = Message.objects.get(pk=result.message_id)
    assert message.subject == "Re: We received your request: Printer is broken [#17]"
    assert message.request_id == support_request.pk
    assert message.direction == Direction.INBOUND
    assert message.kind == Kind.REQUESTER
    assert message.delivery_status is None
    assert message.author_email == "jane.doe@gmail.com"
    assert message.author_name == "Jane Doe"
    assert message.external_id == "gmail-17"
    assert message.rfc_message_id == "<cah7qz1uvxt3kq9sa8jdg6sfq=ybk2cn0tw@mail.gmail.com>"
    assert message.in_reply_to == "<1763288100.4242.1234567890@example.com>"
    assert message.references == "<1763288100.4242.1234567890@example.com>"
    assert message.body.startswith("Hi,\n\nIt still jams on every page")
    assert "wrote:" in message.body
    assert message.reply.endswith('The display says "Paper jam in tray 2".')
    assert "gmail_quote" not in message.html
    assert message.headers["To"] == "Service Desk <support@example.com>"
    assert message.date == datetime(2026, 11, 17, 9, 42, 3, tzinfo=UTC)


def test_created_request_counts_its_message_and_the_acknowledgement():
    [result] = ingest(raw(make_mail(), "m1"))
    support_request = SupportRequest.objects.get(pk=result.request_id)
    assert support_request.message_count == 2
    assert support_request.last_reply_by == Party.REQUESTER
    assert support_request.waiting_on == Party.OPERATOR
    assert support_request.last_message_at is not None


def test_created_request_queues_one_acknowledgement_threaded_under_the_mail():
    [result] = ingest(raw(make_mail(message_id="<first@example.com>"), "m1"))
    support_request = SupportRequest.objects.get(pk=result.request_id)
    [ack] = acknowledgements(support_request)
    assert ack.delivery_status == DeliveryStatus.PENDING
    assert support_request.token in ack.subject
    assert ack.in_reply_to == "<first@example.com>"


def test_each_new_sender_of_a_batch_is_acknowledged_under_their_own_mail(
    mailoutbox, django_capture_on_commit_callbacks
):
    items = [
        raw(make_mail(sender="a@example.com", message_id="<a1@x>", in_reply_to="<root@x>")),
        raw(make_mail(sender="b@example.com", message_id="<b1@x>")),
        raw(make_mail(sender="c@example.com")),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        results = ingest(*items)

    headers = {}
    for result in results:
        support_request = SupportRequest.objects.get(pk=result.request_id)
        [ack] = acknowledgements(support_request)
        headers[support_request.requester_email] = (ack.in_reply_to, ack.references)
        assert support_request.token in ack.subject
        assert support_request.message_count == 2
        assert support_request.last_reply_by == Party.REQUESTER
    assert headers == {
        "a@example.com": ("<a1@x>", "<root@x> <a1@x>"),
        "b@example.com": ("<b1@x>", "<b1@x>"),
        "c@example.com": ("", ""),
    }
    assert sorted(email.to[0] for email in mailoutbox) == sorted(headers)


def test_acknowledgement_threads_under_the_latest_mail_of_a_sender_in_the_batch():
    items = [
        raw(make_mail(message_id="<first@x>", subject="Printer")),
        raw(make_mail(message_id="<second@x>", subject="and the scanner")),
        raw(make_mail(subject="no Message-ID")),
    ]
    results = ingest(*items)

    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.APPENDED, Outcome.APPENDED]
    [ack] = acknowledgements()
    assert ack.in_reply_to == "<second@x>"
    assert SupportRequest.objects.get().message_count == 4


def test_batch_stored_item_by_item_acknowledges_each_new_request_once_after_commit(
    monkeypatch, published, django_capture_on_commit_callbacks
):
    # Another worker stores user1's mail after this batch screened it: the unique provider
    # id refuses the batch's insert, and the batch is stored item by item. Only what that
    # path stored is acknowledged, once per new request, and handed to Celery after commit.
    real = mime.parse_raw_email

    def stored_meanwhile(data, **kwargs):
        email = real(data, **kwargs)
        if email.message_id == "<m1@x>":
            InboundMessageFactory(request__requester_email="user1@example.com", external_id="id-1")
        return email

    monkeypatch.setattr(mime, "parse_raw_email", stored_meanwhile)
    items = [
        raw(make_mail(sender=f"user{n}@example.com", message_id=f"<m{n}@x>"), f"id-{n}")
        for n in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        results = ingest(*items)

    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.DUPLICATE, Outcome.CREATED]
    acks = list(acknowledgements().order_by("pk"))
    assert published == [ack.pk for ack in acks]
    assert sorted(ack.in_reply_to for ack in acks) == ["<m0@x>", "<m2@x>"]
    for result in (results[0], results[2]):
        support_request = SupportRequest.objects.get(pk=result.request_id)
        assert acknowledgements(support_request).count() == 1
        assert support_request.message_count == 2


def test_field_form_is_stored_like_raw_mail():
    [result] = ingest(
        fields(
            user_email="Jane Doe <JANE@Example.com>",
            title="Printer",
            description="It jams.\n\nOn Mon, Bob wrote:\n> old",
            message_id="<f1@example.com>",
            html="<p>It jams.</p><script>x()</script>",
            headers={"Cc": "boss@example.com"},
        )
    )
    message = Message.objects.get(pk=result.message_id)
    assert message.author_email == "jane@example.com"
    assert message.author_name == "Jane Doe"
    assert message.reply == "It jams."
    assert message.html == "<p>It jams.</p>"
    assert message.headers == {"Cc": "boss@example.com"}
    assert message.external_id is None


def test_field_form_is_dated_by_its_date_or_else_at_receipt():
    before = timezone.now()
    dated, undated = (
        Message.objects.get(pk=result.message_id)
        for result in ingest(fields(title="x", date="2026-11-20T10:15:00Z"), fields(title="y"))
    )
    assert dated.date == datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
    assert undated.date >= before


def test_over_long_values_are_cut_to_their_columns():
    [result] = ingest(
        fields(
            user_email=f"{'N' * 400} <jane@example.com>",
            title="S" * 2000,
            message_id="<" + "m" * 400 + "@example.com>",
            in_reply_to="<" + "r" * 400 + "@example.com>",
        )
    )
    message = Message.objects.get(pk=result.message_id)
    assert len(message.subject) == 500
    assert len(message.author_name) == 200
    assert len(message.rfc_message_id) == 255
    assert len(message.in_reply_to) == 255
    assert len(message.request.subject) == 500


def test_raw_mail_with_nul_bytes_and_broken_encodings_is_stored_clean():
    data = make_mail(body="before\x00after").replace(b"before", b"bef\xff\xfeore")
    [result] = ingest(raw(data, "nul"))
    assert result.outcome == Outcome.CREATED
    body = Message.objects.get(pk=result.message_id).body
    assert "\x00" not in body
    assert "after" in body


# --- routing ---------------------------------------------------------------------------


def test_reply_to_the_acknowledgement_is_appended_by_its_thread_headers():
    [first] = ingest(raw(make_mail(message_id="<q1@example.com>"), "m1"))
    ack = acknowledgements().get()
    [reply] = ingest(raw(make_mail(subject="Re: thanks", in_reply_to=ack.rfc_message_id), "m2"))
    assert reply.outcome == Outcome.APPENDED
    assert reply.request_id == first.request_id


def test_each_stored_mail_keeps_the_route_that_placed_it():
    [first] = ingest(raw(make_mail(message_id="<q1@example.com>"), "m1"))
    ack = acknowledgements().get()
    token = SupportRequest.objects.get(pk=first.request_id).token
    results = ingest(
        raw(make_mail(subject="Re: thanks", in_reply_to=ack.rfc_message_id), "m2"),
        raw(make_mail(subject=f"Re: {token}"), "m3"),
        raw(make_mail(subject="something else"), "m4"),
    )
    routes = [Message.objects.get(pk=r.message_id).route for r in [first, *results]]
    assert routes == [Route.NEW, Route.THREAD, Route.SUBJECT, Route.OPEN_REQUEST]
    # Outbound mail is not routed.
    assert ack.route == ""


def test_mail_goes_to_the_senders_open_request_whatever_its_status():
    support_request = SupportRequestFactory(requester_email="jane@example.com", taken=True)
    [result] = ingest(raw(make_mail(sender="JANE@EXAMPLE.COM", subject="more"), "m1"))
    assert result.outcome == Outcome.APPENDED
    assert result.request_id == support_request.pk
    support_request.refresh_from_db()
    assert support_request.status == Status.IN_PROGRESS
    assert support_request.message_count == 1
    assert support_request.last_reply_by == Party.REQUESTER
    assert not acknowledgements().exists()


def test_a_token_of_another_requesters_request_does_not_route_there():
    bobs = SupportRequestFactory(requester_email="bob@example.com")
    [result] = ingest(raw(make_mail(subject=f"Re: {bobs.token} hijack"), "m1"))
    assert result.outcome == Outcome.CREATED
    assert result.request_id != bobs.pk
    assert SupportRequest.objects.get(pk=result.request_id).requester_email == "jane@example.com"


def test_thread_headers_naming_another_requesters_message_do_not_route_there():
    bobs = InboundMessageFactory(
        request__requester_email="bob@example.com", rfc_message_id="<bob@example.com>"
    )
    [result] = ingest(raw(make_mail(in_reply_to="<bob@example.com>"), "m1"))
    assert result.outcome == Outcome.CREATED
    assert result.request_id != bobs.request_id


def test_a_closed_request_never_receives_mail_again():
    closed = SupportRequestFactory(requester_email="jane@example.com", closed=True)
    OutboundMessageFactory(request=closed, rfc_message_id="<closed-ack@example.com>")
    [result] = ingest(
        raw(make_mail(subject=f"Re: {closed.token}", in_reply_to="<closed-ack@example.com>"))
    )
    assert result.outcome == Outcome.CREATED
    assert result.request_id != closed.pk
    closed.refresh_from_db()
    assert closed.status == Status.CLOSED
    assert not closed.messages.filter(direction=Direction.INBOUND).exists()


def test_a_batch_from_one_new_sender_opens_one_request_in_batch_order():
    results = ingest(*[fields(title=f"mail {n}", description=f"body {n}") for n in range(5)])
    assert [r.outcome for r in results] == [Outcome.CREATED] + [Outcome.APPENDED] * 4
    assert len({r.request_id for r in results}) == 1
    support_request = SupportRequest.objects.get()
    assert support_request.subject == "mail 0"
    assert support_request.message_count == 6
    inbound = support_request.messages.filter(direction=Direction.INBOUND)
    assert [m.subject for m in inbound] == [f"mail {n}" for n in range(5)]
    assert [r.message_id for r in results] == [m.pk for m in inbound]


def test_addresses_compare_case_insensitively():
    results = ingest(fields(user_email="Jane@Example.COM"), fields(user_email="jane@example.com"))
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.APPENDED]


# --- idempotency -----------------------------------------------------------------------


def test_the_same_id_is_stored_once_and_reported_as_duplicate_with_the_original_ids():
    [first] = ingest(raw(fixture_bytes("new_request.eml"), "gmail-1"))
    before = SupportRequest.objects.get().message_count
    for _ in range(3):
        [again] = ingest(raw(fixture_bytes("new_request.eml"), "gmail-1"))
        assert again.outcome == Outcome.DUPLICATE
        assert (again.request_id, again.message_id) == (first.request_id, first.message_id)
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1
    assert SupportRequest.objects.get().message_count == before
    assert acknowledgements().count() == 1


def test_the_same_id_with_other_content_is_still_a_duplicate():
    [first] = ingest(fields(external_id="p-1", title="one"))
    [again] = ingest(fields(external_id="p-1", title="two", user_email="bob@example.com"))
    assert again.outcome == Outcome.DUPLICATE
    assert again.message_id == first.message_id


def test_without_an_id_the_message_id_deduplicates():
    [first] = ingest(fields(message_id="<same@example.com>"))
    [again] = ingest(fields(message_id="<SAME@example.com>", title="resent"))
    assert again.outcome == Outcome.DUPLICATE
    assert again.message_id == first.message_id


def test_without_an_id_a_message_id_already_stored_with_an_id_is_a_duplicate():
    [first] = ingest(raw(make_mail(message_id="<both@example.com>"), "gmail-9"))
    [again] = ingest(fields(message_id="<both@example.com>"))
    assert again.outcome == Outcome.DUPLICATE
    assert again.message_id == first.message_id


def test_mail_without_an_id_repeating_a_message_id_of_the_batch_is_a_duplicate():
    results = ingest(
        raw(make_mail(message_id="<shared@example.com>"), "gmail-1"),
        fields(message_id="<shared@example.com>"),
    )
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.DUPLICATE]
    assert results[1].message_id == results[0].message_id


def test_the_same_message_id_under_different_ids_is_stored_twice():
    # Provider ids rule: Gmail gives one mail delivered twice (e.g. Cc'd) two ids.
    ingest(raw(make_mail(message_id="<twice@example.com>"), "a"))
    [second] = ingest(raw(make_mail(message_id="<twice@example.com>"), "b"))
    assert second.outcome == Outcome.APPENDED


def test_mail_without_any_id_is_named_by_its_content():
    first = ingest(fields(title="x", description="a"), fields(title="x", description="b"))
    replayed = ingest(fields(title="x", description="a"))
    later = ingest(fields(title="x", description="a", date="2026-11-21T10:00:00Z"))

    assert [r.outcome for r in first] == [Outcome.CREATED, Outcome.APPENDED]
    assert [r.outcome for r in replayed] == [Outcome.DUPLICATE]
    assert replayed[0].message_id == first[0].message_id
    assert [r.outcome for r in later] == [Outcome.APPENDED]


def test_duplicates_inside_one_batch_are_stored_once():
    results = ingest(
        raw(make_mail(), "dup"),
        raw(make_mail(), "dup"),
        fields(message_id="<m@example.com>", user_email="bob@example.com"),
        fields(message_id="<m@example.com>", user_email="bob@example.com"),
    )
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.DUPLICATE] * 2
    assert results[1].message_id == results[0].message_id
    assert results[3].message_id == results[2].message_id
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 2


# --- loop and noise protection --------------------------------------------------------------


def test_mail_from_the_support_address_is_ignored(settings):
    results = ingest(
        raw(fixture_bytes("own_mail_loop.eml"), "own"),
        fields(user_email=f"Desk <{settings.SUPPORT_EMAIL.upper()}>"),
    )
    assert [r.outcome for r in results] == [Outcome.IGNORED, Outcome.IGNORED]
    assert results[0].request_id is None
    assert not SupportRequest.objects.exists()


def test_a_bounce_is_ignored_and_changes_no_request():
    SupportRequestFactory(requester_email="mailer-daemon@mx.example.net")
    before = list(SupportRequest.objects.values())
    [result] = ingest(raw(fixture_bytes("dsn_bounce.eml"), "dsn"))
    assert result.outcome == Outcome.IGNORED
    assert list(SupportRequest.objects.values()) == before
    assert not Message.objects.exists()


@pytest.mark.parametrize("name", AUTOMATIC_MAIL_FIXTURES)
def test_automatic_mail_is_stored_but_never_acknowledged(name):
    [result] = ingest(raw(fixture_bytes(name), name))
    assert result.outcome == Outcome.CREATED
    assert not acknowledgements().exists()


def test_field_form_headers_mark_automatic_mail():
    [result] = ingest(fields(headers={"Auto-Submitted": "auto-replied"}))
    assert result.outcome == Outcome.CREATED
    assert not acknowledgements().exists()


def test_acknowledgements_to_one_address_are_capped_per_hour(settings):
    settings.AUTO_REPLY_LIMIT_PER_HOUR = 2
    closed = SupportRequestFactory(requester_email="jane@example.com", closed=True)
    for _ in range(2):
        OutboundMessageFactory(request=closed, kind=Kind.AUTO)
    [result] = ingest(fields(title="again"))
    assert result.outcome == Outcome.CREATED
    assert not acknowledgements(SupportRequest.objects.get(pk=result.request_id)).exists()
    [other] = ingest(fields(user_email="bob@example.com"))
    assert acknowledgements(SupportRequest.objects.get(pk=other.request_id)).count() == 1


def test_automatic_mails_older_than_an_hour_do_not_count_against_the_cap(settings):
    settings.AUTO_REPLY_LIMIT_PER_HOUR = 1
    closed = SupportRequestFactory(requester_email="jane@example.com", closed=True)
    OutboundMessageFactory(
        request=closed, kind=Kind.AUTO, created_at=timezone.now() - timedelta(minutes=61)
    )
    [result] = ingest(fields(title="again"))
    assert acknowledgements(SupportRequest.objects.get(pk=result.request_id)).count() == 1


def test_rejected_items_report_their_errors_and_store_nothing():
    results = ingest(
        InboundItem(index=0, errors={"user_email": ["Enter a valid email address."]}),
        raw(fixture_bytes("no_sender.eml"), "ns"),
        fields(user_email="not an address"),
    )
    assert [r.outcome for r in results] == [Outcome.REJECTED] * 3
    assert results[1].errors == {"raw": ["The message has no usable sender address."]}
    assert results[2].errors == {"user_email": ["Enter a valid email address."]}
    assert not Message.objects.exists()


# --- conflicts (what concurrent writers cause, forced deterministically) ----------------------


def test_a_request_opened_concurrently_makes_the_batch_append_to_it(monkeypatch):
    # Another worker opened Jane's request after this batch looked: the first look is stale,
    # the one-open-request index refuses the batch's new request for her.
    SupportRequestFactory(requester_email="jane@example.com")
    real = services.find_open_requests
    calls = []

    def stale_then_real(*, requester_emails):
        calls.append(requester_emails)
        return {} if len(calls) == 1 else real(requester_emails=requester_emails)

    monkeypatch.setattr(services, "find_open_requests", stale_then_real)
    pauses = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    results = ingest(fields(title="a"), fields(title="b", user_email="bob@example.com"))
    assert [r.outcome for r in results] == [Outcome.APPENDED, Outcome.CREATED]
    # The batch started again at once: the other writer had committed.
    assert pauses == []
    assert SupportRequest.objects.filter(requester_email="jane@example.com").count() == 1
    jane = SupportRequest.objects.get(requester_email="jane@example.com")
    assert jane.message_count == 1
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 2


def test_a_request_closed_concurrently_makes_the_mail_open_a_new_one(monkeypatch):
    # An operator closed Jane's request after this batch looked: the first look is stale,
    # and locking the request before commit finds it closed.
    support_request = SupportRequestFactory(requester_email="jane@example.com")
    stale = {"jane@example.com": SupportRequest.objects.get(pk=support_request.pk)}
    SupportRequest.objects.filter(pk=support_request.pk).update(
        status=Status.CLOSED, closed_at=timezone.now()
    )
    real = services.find_open_requests
    calls = []

    def stale_then_real(*, requester_emails):
        calls.append(requester_emails)
        return stale if len(calls) == 1 else real(requester_emails=requester_emails)

    monkeypatch.setattr(services, "find_open_requests", stale_then_real)
    pauses = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    [result] = ingest(fields(title="late"))
    assert result.outcome == Outcome.CREATED
    assert result.request_id != support_request.pk
    assert len(pauses) == 1
    assert Message.objects.get(pk=result.message_id).route == Route.NEW
    support_request.refresh_from_db()
    assert support_request.message_count == 0


def test_a_message_stored_concurrently_is_reported_as_duplicate(monkeypatch):
    # Another worker stores the mail after this batch looked its id up.
    real = mime.parse_field_email

    def stored_meanwhile(**values):
        InboundMessageFactory(request__requester_email="jane@example.com", external_id="race-1")
        return real(**values)

    monkeypatch.setattr(mime, "parse_field_email", stored_meanwhile)
    [result] = ingest(fields(external_id="race-1"))
    assert result.outcome == Outcome.DUPLICATE
    assert Message.objects.filter(external_id="race-1").count() == 1


# --- query counts --------------------------------------------------------------------------


@pytest.mark.parametrize("senders", [5, 20])
def test_queries_for_new_senders_do_not_grow_with_their_number(
    senders, django_assert_max_num_queries
):
    items = [
        raw(make_mail(sender=f"user{n}@example.com", message_id=f"<n{n}@x>"), f"id-{n}")
        for n in range(senders)
    ]
    # Lookups, savepoints, (on PostgreSQL) the new requests' ids from the sequence, one
    # insert of the requests and one of the messages, then for the acknowledgements: the
    # hourly cap's count, one insert and one counter update; and one insert of the
    # requests' history events.
    with django_assert_max_num_queries(15):
        results = ingest(*items)
    assert {r.outcome for r in results} == {Outcome.CREATED}
    assert acknowledgements().count() == senders


def test_queries_for_appended_mail_do_not_grow_with_messages_or_senders(
    django_assert_max_num_queries,
):
    for n in range(5):
        SupportRequestFactory(requester_email=f"user{n}@example.com")
    items = [
        raw(make_mail(sender=f"user{n % 5}@example.com", in_reply_to=f"<r{n}@x>"), f"id-{n}")
        for n in range(50)
    ]
    # SQLite inserts the 50 messages in two statements; PostgreSQL in one.
    with django_assert_max_num_queries(12):
        results = ingest(*items)
    assert {r.outcome for r in results} == {Outcome.APPENDED}


def test_a_batch_of_duplicates_costs_one_query(django_assert_num_queries):
    items = [fields(external_id=f"d-{n}", user_email=f"u{n}@example.com") for n in range(30)]
    ingest(*items)
    with django_assert_num_queries(1):
        results = ingest(*items)
    assert {r.outcome for r in results} == {Outcome.DUPLICATE}


def test_a_batch_rolled_back_by_a_deadlock_is_stored_on_the_next_attempt(monkeypatch):
    real = services.open_requests_for_mail
    calls = []

    def deadlock_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            SupportRequestFactory(requester_email="bystander@example.com")
            raise OperationalError("deadlock detected")
        return real(**kwargs)

    monkeypatch.setattr(services, "open_requests_for_mail", deadlock_once)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    [result] = ingest(fields(title="after a deadlock"))
    assert result.outcome == Outcome.CREATED
    assert len(calls) == 2
    # The first attempt was rolled back whole, including what it wrote.
    assert not SupportRequest.objects.filter(requester_email="bystander@example.com").exists()


def test_a_batch_that_keeps_deadlocking_is_refused_whole_and_stores_nothing(monkeypatch):
    def always(**kwargs):
        SupportRequestFactory(requester_email="bystander@example.com")
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(services, "open_requests_for_mail", always)
    pauses = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    with pytest.raises(IngestUnavailableError):
        ingest(fields(title="x"), fields(title="y", user_email="bob@example.com"))
    assert not SupportRequest.objects.exists()
    assert not Message.objects.exists()
    # Every attempt but the last waits, longer each time.
    assert len(pauses) == 6
    assert pauses == sorted(pauses)


@pytest.fixture
def poisoned_subject():
    """The database refuses inbound mail whose subject is "poison" (a real trigger)."""
    if connection.vendor == "postgresql":
        statements = [
            """CREATE FUNCTION poison_mail() RETURNS trigger AS $$ BEGIN
                IF NEW.subject = 'poison' THEN
                    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'poisoned';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""",
            """CREATE TRIGGER poison_mail BEFORE INSERT ON messages_app_message
                FOR EACH ROW EXECUTE FUNCTION poison_mail()""",
        ]
    else:
        statements = [
            """CREATE TRIGGER poison_mail BEFORE INSERT ON messages_app_message
                WHEN NEW.subject = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"""
        ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return "poison"


def test_an_item_that_can_never_be_stored_is_rejected_alone(poisoned_subject):
    results = ingest(
        fields(title="fine"), fields(title=poisoned_subject, user_email="bob@example.com")
    )
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.REJECTED]
    assert results[1].errors == {"non_field_errors": ["The message could not be stored."]}
    assert not SupportRequest.objects.filter(requester_email="bob@example.com").exists()
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1


# --- request numbers and subjects ----------------------------------------------------------


def test_requests_opened_by_one_batch_are_numbered_in_the_order_of_its_items():
    senders = ["zoe@example.com", "adam@example.com", "mia@example.com", "bob@example.com"]

    results = ingest(*(fields(user_email=sender, title=sender) for sender in senders))

    assert [result.outcome for result in results] == [Outcome.CREATED] * 4
    ids = [result.request_id for result in results]
    assert ids == sorted(ids)
    assert [SupportRequest.objects.get(pk=pk).requester_email for pk in ids] == senders


def test_a_reply_to_a_closed_notice_opens_a_request_about_the_original_subject():
    old = SupportRequestFactory(closed=True, requester_email="jane@example.com")
    subject = f"Re: Your request is closed: Printer is broken {old.token}"

    [result] = ingest(fields(title=subject))

    support_request = SupportRequest.objects.get(pk=result.request_id)
    assert result.outcome == Outcome.CREATED
    assert support_request.subject == "Printer is broken"
    [ack] = acknowledgements(support_request)
    assert ack.subject == f"We received your request: Printer is broken {support_request.token}"
