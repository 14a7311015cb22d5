"""A request's messages over HTTP: the thread oldest first, and an operator's reply."""

import datetime

import pytest

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.models import Party, Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

# The message object of the contract (API.md), its fields in alphabetical order.
MESSAGE_FIELDS = {
    "attachments",
    "author_email",
    "body",
    "created_at",
    "delivery_status",
    "direction",
    "id",
    "kind",
    "operator",
    "raw_url",
    "reply",
    "request_id",
    "sent_at",
    "subject",
}


def messages_url(support_request) -> str:
    return f"/api/v1/requests/{support_request.pk}/messages/"


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


# --- GET /api/v1/requests/{id}/messages/ ------------------------------------------------


def test_messages_are_listed_oldest_first_with_the_contracts_fields(operator_client):
    support_request = SupportRequestFactory(subject="Printer is broken")
    alice = OperatorFactory(name="Alice")
    later = OutboundMessageFactory(
        request=support_request,
        operator=alice,
        body="Does it jam?",
        created_at=at(2026, 11, 20, 10, 20),
        delivery_status=DeliveryStatus.SENT,
        sent_at=at(2026, 11, 20, 10, 21),
    )
    first = InboundMessageFactory(
        request=support_request,
        author_email="jane@example.com",
        body="It jams on every page.\n\nOn Mon, Alice wrote:\n> Does it jam?",
        reply="It jams on every page.",
        created_at=at(2026, 11, 20, 10, 15),
    )

    response = operator_client.get(messages_url(support_request))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    inbound, outbound = body["results"]
    assert set(inbound) == MESSAGE_FIELDS
    assert inbound == {
        "attachments": [],
        "author_email": "jane@example.com",
        "body": "It jams on every page.\n\nOn Mon, Alice wrote:\n> Does it jam?",
        "created_at": "2026-11-20T10:15:00.000000Z",
        "delivery_status": None,
        "direction": "inbound",
        "id": first.pk,
        "kind": "requester",
        "operator": None,
        "raw_url": None,
        "reply": "It jams on every page.",
        "request_id": support_request.pk,
        "sent_at": None,
        "subject": "Printer is broken",
    }
    assert outbound["id"] == later.pk
    assert outbound["direction"] == "outbound"
    assert outbound["operator"] == {"id": alice.pk, "name": "Alice"}
    assert outbound["delivery_status"] == "sent"
    assert outbound["sent_at"] == "2026-11-20T10:21:00.000000Z"


def test_messages_created_at_the_same_moment_are_ordered_by_id(operator_client):
    support_request = SupportRequestFactory()
    moment = at(2026, 11, 20, 10, 15)
    made = [InboundMessageFactory(request=support_request, created_at=moment) for _ in range(3)]

    results = operator_client.get(messages_url(support_request)).json()["results"]

    assert [m["id"] for m in results] == [m.pk for m in made]


def test_messages_of_other_requests_are_not_listed(operator_client):
    mine = InboundMessageFactory()
    InboundMessageFactory()

    results = operator_client.get(messages_url(mine.request)).json()["results"]

    assert [m["id"] for m in results] == [mine.pk]


def test_messages_are_paginated(operator_client):
    support_request = SupportRequestFactory()
    InboundMessageFactory.create_batch(3, request=support_request)

    body = operator_client.get(messages_url(support_request), {"page_size": 2}).json()

    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None
    assert body["previous"] is None


def test_messages_list_uses_the_same_number_of_queries_whatever_the_page_size(
    operator_client, django_assert_num_queries
):
    support_request = SupportRequestFactory()
    for _ in range(10):
        InboundMessageFactory(request=support_request)
        OutboundMessageFactory(request=support_request, operator=OperatorFactory())

    # Token + operator, the request's existence, count, page, the page's attachments.
    with django_assert_num_queries(5):
        operator_client.get(messages_url(support_request), {"page_size": 1})
    with django_assert_num_queries(5):
        response = operator_client.get(messages_url(support_request), {"page_size": 200})

    assert len(response.json()["results"]) == 20


def test_messages_of_a_request_without_messages_is_an_empty_page(operator_client):
    body = operator_client.get(messages_url(SupportRequestFactory())).json()

    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_messages_of_a_missing_request_is_a_404(operator_client):
    response = operator_client.get("/api/v1/requests/424242/messages/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No request with this id.", "code": "not_found"}


def test_messages_page_past_the_last_is_a_404(operator_client):
    InboundMessageFactory()
    support_request = SupportRequest.objects.get()

    response = operator_client.get(messages_url(support_request), {"page": 5})

    assert response.status_code == 404
    assert response.json()["detail"] == "Invalid page."


def test_messages_without_credentials_is_a_401(api_client):
    assert api_client.get(messages_url(SupportRequestFactory())).status_code == 401


def test_messages_for_a_user_without_operator_profile_is_a_403(user_client):
    response = user_client.get(messages_url(SupportRequestFactory()))

    assert response.status_code == 403
    assert response.json()["code"] == "no_operator_profile"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_messages_with_another_method_is_a_405(operator_client, method):
    response = getattr(operator_client, method)(messages_url(SupportRequestFactory()))

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- POST /api/v1/requests/{id}/messages/ ----------------------------------------------


def test_reply_is_stored_outbound_to_the_requester_and_answers_201_pending(
    operator_client, operator
):
    support_request = SupportRequestFactory(
        subject="Printer is broken",
        requester_email="jane@example.com",
        message_count=1,
        last_reply_by=Party.REQUESTER,
    )

    response = operator_client.post(
        messages_url(support_request), {"body": "Please try the left tray."}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == MESSAGE_FIELDS
    assert body["request_id"] == support_request.pk
    assert body["direction"] == "outbound"
    assert body["kind"] == "operator"
    assert body["operator"] == {"id": operator.pk, "name": operator.name}
    # The mail is signed with the operator's name; `reply` is the text the operator wrote.
    assert body["reply"] == "Please try the left tray."
    assert body["body"] == f"Please try the left tray.\n\n-- \n{operator.name}\nService Desk\n"
    assert body["subject"] == f"Re: Printer is broken [#{support_request.pk}]"
    assert body["delivery_status"] == "pending"
    assert body["sent_at"] is None
    message = Message.objects.get(pk=body["id"])
    assert message.direction == Direction.OUTBOUND
    assert message.kind == Kind.OPERATOR
    assert message.operator == operator
    assert message.delivery_status == DeliveryStatus.PENDING
    assert message.rfc_message_id
    support_request.refresh_from_db()
    assert support_request.message_count == 2
    assert support_request.waiting_on == Party.REQUESTER
    assert support_request.last_message_at == message.created_at


def test_reply_with_a_subject_keeps_it_and_adds_the_token(operator_client):
    support_request = SupportRequestFactory(subject="Printer is broken")

    response = operator_client.post(
        messages_url(support_request),
        {"body": "Fixed.", "subject": "Paper tray\r\nBcc: evil@example.com"},
        format="json",
    )

    assert response.status_code == 201
    subject = response.json()["subject"]
    assert subject.startswith("Paper tray")
    assert subject.endswith(f"[#{support_request.pk}]")
    assert "\n" not in subject
    assert "\r" not in subject


def test_reply_goes_only_to_the_requester_whatever_the_body_says(
    operator_client, django_capture_on_commit_callbacks, mailoutbox
):
    support_request = SupportRequestFactory(requester_email="jane@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            messages_url(support_request),
            {"body": "Hi", "to": "mallory@example.com", "cc": ["eve@example.com"]},
            format="json",
        )

    assert response.status_code == 201
    [mail] = mailoutbox
    assert mail.recipients() == ["jane@example.com"]


def test_reply_is_queued_for_delivery_after_commit(
    operator_client, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("messages_app.outbound.outbox.enqueue_delivery", queued.append)
    support_request = SupportRequestFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            messages_url(support_request), {"body": "Hi"}, format="json"
        )

    assert queued == [response.json()["id"]]


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   \n\t "}, {}, {"subject": "Only"}])
def test_reply_with_an_empty_body_is_a_400(operator_client, body):
    support_request = SupportRequestFactory()

    response = operator_client.post(messages_url(support_request), body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["body"]
    assert not Message.objects.filter(request=support_request).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"body": None},
        {"body": ["a"]},
        {"body": {"text": "a"}},
        {"body": "x" * 100_001},
        {"body": "nul \x00 inside"},
        {"body": "ok", "subject": "s" * 401},
    ],
)
def test_reply_with_an_invalid_field_is_a_400(operator_client, body):
    support_request = SupportRequestFactory()

    response = operator_client.post(messages_url(support_request), body, format="json")

    assert response.status_code == 400
    assert not Message.objects.filter(request=support_request).exists()


def test_reply_keeps_the_body_as_written(operator_client):
    support_request = SupportRequestFactory()
    text = "  indented first line\n\nthanks\n"

    response = operator_client.post(messages_url(support_request), {"body": text}, format="json")

    assert response.json()["reply"] == text
    assert response.json()["body"].startswith(text + "\n-- \n")


def test_reply_to_a_closed_request_is_a_409_invalid_transition(operator_client):
    support_request = SupportRequestFactory(closed=True)

    response = operator_client.post(messages_url(support_request), {"body": "Hi"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert not Message.objects.filter(request=support_request).exists()


def test_reply_to_a_request_another_operator_holds_is_allowed(operator_client, other_operator):
    support_request = SupportRequestFactory(status=Status.IN_PROGRESS, operator=other_operator)

    response = operator_client.post(messages_url(support_request), {"body": "Hi"}, format="json")

    assert response.status_code == 201


def test_reply_to_a_missing_request_is_a_404(operator_client):
    response = operator_client.post(
        "/api/v1/requests/424242/messages/", {"body": "Hi"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        pytest.param(
            "body=Hi",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
            id="not-json",
        ),
        pytest.param('{"body": "Hi"', "application/json", 400, "parse_error", id="malformed"),
        pytest.param(
            '{"body": "bad \\ud800 text"}',
            "application/json",
            400,
            "parse_error",
            id="unpaired-surrogate",
        ),
    ],
)
def test_a_reply_body_that_is_not_valid_json_is_refused_and_stores_nothing(
    operator_client, body, content_type, status, code
):
    support_request = SupportRequestFactory()

    response = operator_client.post(messages_url(support_request), body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not Message.objects.filter(request=support_request).exists()


def test_reply_without_credentials_is_a_401(api_client):
    support_request = SupportRequestFactory()

    response = api_client.post(messages_url(support_request), {"body": "Hi"}, format="json")

    assert response.status_code == 401
    assert not Message.objects.exists()


def test_reply_by_a_user_without_operator_profile_is_a_403(user_client):
    support_request = SupportRequestFactory()

    response = user_client.post(messages_url(support_request), {"body": "Hi"}, format="json")

    assert response.status_code == 403
    assert not Message.objects.exists()
