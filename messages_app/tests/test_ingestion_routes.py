"""Why a mail landed where it did: the route ingestion stores on each inbound message, in
its arrival event and in the admin, alike on the fast path and item by item."""

from uuid import uuid4

import pytest
from django.urls import reverse

from messages_app.inbound.ingest import InboundItem, Outcome, ingest_batch
from messages_app.models import Direction, Kind, Message, Route
from messages_app.parsing import mime
from messages_app.tests.factories import InboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.models import EventType, RequestEvent, SupportRequest
from requests_app.tests.factories import SupportRequestFactory
from testing.mail import make_mail

pytestmark = pytest.mark.django_db


def ingest(*mails: bytes) -> list:
    """Ingest raw mails in one batch, each under a new provider id (its Message-ID if any)."""
    items = [
        InboundItem(
            index=n, external_id=mime.parse_raw_email(mail).message_id or str(uuid4()), raw=mail
        )
        for n, mail in enumerate(mails)
    ]
    return ingest_batch(items=items)


def route_of(result) -> str:
    return Message.objects.get(pk=result.message_id).route


def test_arrival_events_name_the_message_and_its_route():
    support_request = SupportRequestFactory(requester_email="jane@example.com")
    [appended] = ingest(make_mail(subject=f"Re: {support_request.token}"))
    [created] = ingest(make_mail(sender="bob@example.com"))

    received = RequestEvent.objects.get(type=EventType.MESSAGE_RECEIVED)
    assert received.request_id == support_request.pk
    assert received.data == {"message_id": appended.message_id, "route": "subject"}
    opened = RequestEvent.objects.get(type=EventType.CREATED, request_id=created.request_id)
    assert opened.data == {"message_id": created.message_id, "route": "new"}


def test_mail_answering_an_earlier_mail_of_the_same_batch_follows_it_by_thread():
    results = ingest(
        make_mail(message_id="<first@x>"),
        make_mail(message_id="<second@x>", in_reply_to="<first@x>"),
        make_mail(message_id="<third@x>"),
    )
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.APPENDED, Outcome.APPENDED]
    assert [route_of(r) for r in results] == [Route.NEW, Route.THREAD, Route.OPEN_REQUEST]


def test_thread_headers_naming_a_closed_request_route_to_the_open_one_by_sender():
    closed = SupportRequestFactory(requester_email="jane@example.com", closed=True)
    InboundMessageFactory(request=closed, rfc_message_id="<old@x>")
    open_request = SupportRequestFactory(requester_email="jane@example.com")
    [result] = ingest(make_mail(in_reply_to="<old@x>"))
    assert result.request_id == open_request.pk
    assert route_of(result) == Route.OPEN_REQUEST


def test_mail_stored_item_by_item_is_routed_as_on_the_fast_path(monkeypatch):
    # A concurrent writer stores the last mail after screening: the batch's insert is
    # refused and every item is stored alone, from a fresh read.
    support_request = SupportRequestFactory(requester_email="jane@example.com")
    real = mime.parse_raw_email

    def stored_meanwhile(data, **kwargs):
        email = real(data, **kwargs)
        if email.message_id == "<late@x>":
            InboundMessageFactory(
                request__requester_email="zed@example.com", external_id="<late@x>"
            )
        return email

    monkeypatch.setattr(mime, "parse_raw_email", stored_meanwhile)
    results = ingest(
        make_mail(subject=f"Re: {support_request.token}"),
        make_mail(subject="more"),
        make_mail(sender="bob@example.com", message_id="<b1@x>"),
        make_mail(sender="bob@example.com", message_id="<b2@x>", in_reply_to="<b1@x>"),
        make_mail(sender="zed@example.com", message_id="<late@x>"),
    )
    assert [r.outcome for r in results] == [
        Outcome.APPENDED,
        Outcome.APPENDED,
        Outcome.CREATED,
        Outcome.APPENDED,
        Outcome.DUPLICATE,
    ]
    assert [route_of(r) for r in results[:4]] == [
        Route.SUBJECT,
        Route.OPEN_REQUEST,
        Route.NEW,
        Route.THREAD,
    ]
    support_request.refresh_from_db()
    assert support_request.message_count == 2
    bob = SupportRequest.objects.get(requester_email="bob@example.com")
    # Two mails and the acknowledgement.
    assert bob.message_count == 3


def test_only_inbound_mail_has_a_route():
    [result] = ingest(make_mail())
    ack = Message.objects.get(direction=Direction.OUTBOUND, kind=Kind.AUTO)
    assert route_of(result) == Route.NEW
    assert ack.route == ""


@pytest.fixture
def admin_client_(client):
    client.force_login(OperatorFactory(user__is_staff=True, user__is_superuser=True).user)
    return client


def test_the_admin_lists_filters_and_shows_the_route(admin_client_):
    support_request = SupportRequestFactory(requester_email="jane@example.com")
    [by_subject] = ingest(make_mail(subject=f"Re: {support_request.token} by token"))
    ingest(make_mail(sender="bob@example.com", subject="opens a request"))
    changelist = reverse("admin:messages_app_message_changelist")

    page = admin_client_.get(changelist).content.decode()
    assert "Subject names the request" in page
    assert "Opened a new request" in page

    filtered = admin_client_.get(changelist, {"route__exact": "subject"}).content.decode()
    assert "by token" in filtered
    assert "opens a request" not in filtered

    change = reverse("admin:messages_app_message_change", args=[by_subject.message_id])
    assert "Subject names the request" in admin_client_.get(change).content.decode()
