"""The operator workflow routes of API.md: open, assign, notes, history, canned replies."""

import pytest
from django.core import mail

from messages_app.models import CannedReply, Direction, Kind, Message
from operators_app.tests.factories import OperatorFactory
from requests_app.models import Party, Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory
from testing.clients import token_client

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"
CANNED = "/api/v1/canned-replies/"
OPENING = {
    "requester_email": "Jane@Example.com",
    "requester_name": "Jane Doe",
    "subject": "Your new laptop",
    "body": "It is ready for pick-up.",
}


def url(support_request, action: str) -> str:
    return f"/api/v1/requests/{support_request.pk}/{action}/"


# --- opening a request ------------------------------------------------------------------


def test_an_operator_opens_a_request_held_by_them_and_mailed_to_the_requester(
    operator, operator_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(LIST, OPENING, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["operator"] == {"id": operator.pk, "name": operator.name}
    assert body["requester_email"] == "jane@example.com"
    assert body["waiting_on"] == "requester"
    assert body["message_count"] == 1
    assert body["first_response_at"] is None
    [sent] = mail.outbox
    assert sent.to == ["jane@example.com"]
    assert sent.subject == f"Your new laptop [#{body['id']}]"
    assert not Message.objects.filter(kind=Kind.AUTO).exists()


def test_opening_for_a_requester_with_an_open_request_answers_409_naming_it(operator_client):
    existing = SupportRequestFactory(requester_email="jane@example.com")

    response = operator_client.post(LIST, OPENING, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": response.json()["detail"],
        "code": "open_request_exists",
        "request_id": existing.pk,
    }
    assert SupportRequest.objects.count() == 1


def test_a_requester_whose_requests_are_closed_can_get_a_new_one(operator_client):
    SupportRequestFactory(requester_email="jane@example.com", closed=True)

    assert operator_client.post(LIST, OPENING, format="json").status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"requester_email": "not an address"},
        {"requester_email": ""},
        {"subject": ""},
        {"subject": "   "},
        {"body": ""},
        {"body": " \n "},
        {"subject": "x" * 401},
        {"body": "x" * 100_001},
        {"requester_name": "x" * 201},
        {"body": "nul\x00byte"},
        {"subject": ["a list"]},
    ],
)
def test_opening_with_bad_input_answers_400_and_stores_nothing(operator_client, change):
    response = operator_client.post(LIST, {**OPENING, **change}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == set(change)
    assert not SupportRequest.objects.exists()


def test_opening_with_a_missing_field_answers_400(operator_client):
    response = operator_client.post(LIST, {"requester_email": "a@example.com"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"subject", "body"}


def test_opening_needs_an_operator(api_client, user_client):
    assert api_client.post(LIST, OPENING, format="json").status_code == 401
    assert user_client.post(LIST, OPENING, format="json").status_code == 403


# --- assign -------------------------------------------------------------------------------


def test_staff_assign_a_new_request_which_queues_the_taken_notice(staff_client, operator):
    support_request = SupportRequestFactory()

    response = staff_client.post(
        url(support_request, "assign"), {"operator": operator.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    assert response.json()["operator"]["id"] == operator.pk
    assert Message.objects.filter(request=support_request, kind=Kind.AUTO).count() == 1


def test_the_holder_hands_on_without_mail_and_then_may_not_assign_again(
    operator, operator_client, other_operator
):
    support_request = SupportRequestFactory(taken=True, operator=operator)

    response = operator_client.post(
        url(support_request, "assign"), {"operator": other_operator.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["operator"]["id"] == other_operator.pk
    assert not Message.objects.filter(request=support_request).exists()
    again = operator_client.post(
        url(support_request, "assign"), {"operator": operator.pk}, format="json"
    )
    assert again.status_code == 403
    assert again.json()["code"] == "permission_denied"


def test_an_operator_may_not_assign_a_new_request(operator_client, operator):
    support_request = SupportRequestFactory()

    response = operator_client.post(
        url(support_request, "assign"), {"operator": operator.pk}, format="json"
    )

    assert response.status_code == 403
    assert SupportRequest.objects.get(pk=support_request.pk).status == Status.NEW


@pytest.mark.parametrize("value", [0, -1, "x", None, 2**63, 10**30, 999_999])
def test_assign_to_an_unknown_operator_answers_400(staff_client, value):
    support_request = SupportRequestFactory()

    response = staff_client.post(url(support_request, "assign"), {"operator": value}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"operator"}


def test_assign_to_an_inactive_operator_answers_400(staff_client):
    inactive = OperatorFactory(user__is_active=False)

    response = staff_client.post(
        url(SupportRequestFactory(), "assign"), {"operator": inactive.pk}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"operator"}


def test_assign_a_closed_request_answers_409_and_an_unknown_one_404(staff_client, operator):
    closed = SupportRequestFactory(closed=True)

    response = staff_client.post(url(closed, "assign"), {"operator": operator.pk}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    missing = staff_client.post(
        "/api/v1/requests/999999/assign/", {"operator": operator.pk}, format="json"
    )
    assert missing.status_code == 404
    # Whatever the body: there is nothing to assign.
    for body in ({}, {"operator": "x"}):
        missing = staff_client.post("/api/v1/requests/999999/assign/", body, format="json")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"


# --- notes --------------------------------------------------------------------------------


def test_a_note_is_listed_for_operators_and_never_mailed(
    operator, operator_client, django_capture_on_commit_callbacks
):
    support_request = SupportRequestFactory(closed=True, last_reply_by=Party.REQUESTER)
    before = operator_client.get(url(support_request, "")[:-1]).json()

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            url(support_request, "notes"), {"body": "Called her."}, format="json"
        )

    assert response.status_code == 201
    note = response.json()
    assert (note["direction"], note["kind"], note["delivery_status"]) == ("internal", "note", None)
    assert note["operator"] == {"id": operator.pk, "name": operator.name}
    assert mail.outbox == []
    after = operator_client.get(url(support_request, "")[:-1]).json()
    assert after["last_message_at"] == before["last_message_at"]
    thread = operator_client.get(url(support_request, "messages")).json()["results"]
    assert [m["kind"] for m in thread] == ["note"]


def test_a_note_on_an_open_request_leaves_waiting_on(operator_client):
    support_request = SupportRequestFactory(last_reply_by=Party.REQUESTER)

    operator_client.post(url(support_request, "notes"), {"body": "Hm."}, format="json")

    body = operator_client.get(url(support_request, "")[:-1]).json()
    assert body["waiting_on"] == "operator"


@pytest.mark.parametrize("payload", [{}, {"body": ""}, {"body": "  "}, {"body": "x" * 100_001}])
def test_an_empty_note_answers_400(operator_client, payload):
    support_request = SupportRequestFactory()

    response = operator_client.post(url(support_request, "notes"), payload, format="json")

    assert response.status_code == 400
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [{"body": "x"}, {"body": ""}, {}])
def test_a_note_on_a_missing_request_answers_404(operator_client, body):
    response = operator_client.post("/api/v1/requests/999999/notes/", body, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_notes_are_not_quoted_or_threaded_into_mail_to_the_requester(
    operator, operator_client, django_capture_on_commit_callbacks
):
    support_request = SupportRequestFactory(taken=True, operator=operator)
    operator_client.post(url(support_request, "notes"), {"body": "SECRET-NOTE"}, format="json")

    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(url(support_request, "messages"), {"body": "Hello"}, format="json")

    [sent] = mail.outbox
    assert "SECRET-NOTE" not in sent.message().as_string()


# --- history ------------------------------------------------------------------------------


def test_the_history_lists_each_change_with_its_actor(
    operator, operator_client, django_capture_on_commit_callbacks
):
    support_request = SupportRequestFactory(requester_name="Jane Doe")
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(url(support_request, "take"))
        operator_client.post(url(support_request, "messages"), {"body": "Hi"}, format="json")
        operator_client.post(url(support_request, "notes"), {"body": "n"}, format="json")
        operator_client.post(url(support_request, "close"))

    response = operator_client.get(url(support_request, "events"))

    assert response.status_code == 200
    events = response.json()["results"]
    assert [e["type"] for e in events] == [
        "taken",
        "notice_sent",
        "replied",
        "noted",
        "closed",
        "notice_sent",
    ]
    assert set(events[0]) == {"id", "at", "type", "actor", "data"}
    assert events[0]["actor"] == {"type": "operator", "id": operator.pk, "name": operator.name}
    assert events[1]["actor"] == {"type": "system", "id": None, "name": None}
    assert events[0]["at"].endswith("Z")


def test_the_history_of_a_missing_request_answers_404(operator_client):
    assert operator_client.get("/api/v1/requests/999999/events/").status_code == 404


# --- canned replies -----------------------------------------------------------------------


def test_an_operator_creates_reads_changes_and_deletes_their_canned_reply(
    operator, operator_client
):
    created = operator_client.post(
        CANNED, {"title": "Restart", "body": "Hello {requester_name}"}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "title", "body", "created_by", "updated_at"}
    assert body["created_by"] == {"id": operator.pk, "name": operator.name}
    item = f"{CANNED}{body['id']}/"

    assert operator_client.get(CANNED).json()["results"] == [body]
    changed = operator_client.patch(item, {"title": "Reboot"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["title"] == "Reboot"
    assert changed.json()["body"] == "Hello {requester_name}"
    assert operator_client.delete(item).status_code == 204
    assert operator_client.get(item).status_code == 404


def test_only_the_author_or_staff_change_a_canned_reply(operator, staff_client, other_operator):
    canned = CannedReply.objects.create(title="t", body="b", created_by=other_operator)
    item = f"{CANNED}{canned.pk}/"
    client = token_client(operator.user)

    assert client.get(item).status_code == 200
    assert client.patch(item, {"title": "x"}, format="json").status_code == 403
    assert client.delete(item).status_code == 403
    assert staff_client.patch(item, {"title": "x"}, format="json").status_code == 200
    assert staff_client.delete(item).status_code == 204


@pytest.mark.parametrize(
    "payload", [{}, {"title": "", "body": "b"}, {"title": "t", "body": " "}, {"title": "x" * 201}]
)
def test_a_canned_reply_without_title_or_body_answers_400(operator_client, payload):
    assert operator_client.post(CANNED, payload, format="json").status_code == 400
    assert not CannedReply.objects.exists()


def test_replying_with_a_canned_reply_sends_it_filled_in(
    operator, operator_client, django_capture_on_commit_callbacks
):
    support_request = SupportRequestFactory(
        taken=True, operator=operator, requester_name="Jane", subject="VPN"
    )
    canned = CannedReply.objects.create(
        title="t",
        body="Hello {requester_name}, about {subject} (#{request_id}); {other}. {operator_name}",
        created_by=OperatorFactory(),
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            url(support_request, "messages"), {"canned_reply": canned.pk}, format="json"
        )

    assert response.status_code == 201
    expected = f"Hello Jane, about VPN (#{support_request.pk}); {{other}}. {operator.name}"
    assert response.json()["reply"] == expected
    assert response.json()["body"].startswith(expected)
    [sent] = mail.outbox
    assert sent.body.startswith(expected)


@pytest.mark.parametrize(("tail", "status"), [("", 201), ("!", 400)])
def test_a_canned_reply_filled_in_past_the_length_of_a_reply_answers_400(
    operator, operator_client, tail, status
):
    # 250 subjects of 400 characters: exactly OPERATOR_TEXT_MAX_CHARS (100,000), the most
    # a typed reply may hold; one character more is refused and nothing is stored.
    support_request = SupportRequestFactory(taken=True, operator=operator, subject="s" * 400)
    canned = CannedReply.objects.create(
        title="t", body="{subject}" * 250 + tail, created_by=operator
    )

    response = operator_client.post(
        url(support_request, "messages"), {"canned_reply": canned.pk}, format="json"
    )

    assert response.status_code == status
    outbound = Message.objects.filter(direction=Direction.OUTBOUND)
    if status == 201:
        assert len(response.json()["reply"]) == 100_000
        assert outbound.count() == 1
    else:
        assert list(response.json()) == ["canned_reply"]
        assert not outbound.exists()


@pytest.mark.parametrize(
    "payload", [{"canned_reply": 999999}, {"canned_reply": "x"}, {"canned_reply": 2**70}, {}]
)
def test_replying_with_an_unknown_canned_reply_answers_400(operator, operator_client, payload):
    support_request = SupportRequestFactory(taken=True, operator=operator)

    response = operator_client.post(url(support_request, "messages"), payload, format="json")

    assert response.status_code == 400
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_first_response_at_is_set_by_the_first_reply_only(operator, operator_client):
    support_request = SupportRequestFactory()
    operator_client.post(url(support_request, "take"))
    operator_client.post(url(support_request, "notes"), {"body": "n"}, format="json")
    assert operator_client.get(LIST).json()["results"][0]["first_response_at"] is None

    reply = operator_client.post(url(support_request, "messages"), {"body": "Hi"}, format="json")

    listed = operator_client.get(LIST).json()["results"][0]
    detail = operator_client.get(url(support_request, "")[:-1]).json()
    assert listed["first_response_at"] == detail["first_response_at"] == reply.json()["created_at"]


# --- opening a request with files (multipart/form-data) ------------------------------------


def _upload(name: str, data: bytes, content_type: str = "application/pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def test_opening_with_files_mails_them_and_lists_them_on_the_first_message(
    operator_client, django_capture_on_commit_callbacks
):
    files = [
        _upload("offer.pdf", b"%PDF-1.4 offer"),
        _upload("map.png", b"\x89PNG map", "image/png"),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(LIST, {**OPENING, "attachments": files}, format="multipart")

    assert response.status_code == 201
    request_id = response.json()["id"]
    [message] = operator_client.get(f"{LIST}{request_id}/messages/").json()["results"]
    assert [(f["filename"], f["size"]) for f in message["attachments"]] == [
        ("offer.pdf", 14),
        ("map.png", 8),
    ]
    [sent] = mail.outbox
    assert [(name, content) for name, content, _ in sent.attachments] == [
        ("offer.pdf", b"%PDF-1.4 offer"),
        ("map.png", b"\x89PNG map"),
    ]


def test_opening_with_too_many_files_answers_400_and_stores_nothing(operator_client, settings):
    settings.OUTBOUND_ATTACHMENT_MAX_COUNT = 2
    files = [_upload(f"{n}.pdf", b"x") for n in range(3)]

    response = operator_client.post(LIST, {**OPENING, "attachments": files}, format="multipart")

    assert response.status_code == 400
    assert set(response.json()) == {"attachments"}
    assert not SupportRequest.objects.exists()
    assert not Message.objects.exists()


def test_opening_with_files_over_the_byte_limit_answers_413_and_stores_nothing(
    operator_client, settings
):
    settings.OUTBOUND_ATTACHMENT_MAX_BYTES = 10
    files = [_upload("a.pdf", b"x" * 6), _upload("b.pdf", b"x" * 5)]

    response = operator_client.post(LIST, {**OPENING, "attachments": files}, format="multipart")

    assert response.status_code == 413
    assert response.json()["code"] == "attachments_too_large"
    assert not SupportRequest.objects.exists()


def test_opening_for_an_address_that_cannot_be_mailed_answers_400(operator_client):
    response = operator_client.post(
        LIST, {**OPENING, "requester_email": "jöran@example.com"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"requester_email"}
    assert not SupportRequest.objects.exists()


@pytest.mark.parametrize("address", ["support@example.com", " Support@Example.COM "])
def test_opening_a_request_for_the_support_address_itself_answers_400(
    operator_client, settings, address
):
    # Mail to it comes back to the support inbox, which drops the service's own mail.
    settings.SUPPORT_EMAIL = "support@example.com"

    response = operator_client.post(LIST, {**OPENING, "requester_email": address}, format="json")

    assert response.status_code == 400
    assert response.json()["requester_email"] == [
        "This is the service desk's own address, not a requester's."
    ]
    assert not SupportRequest.objects.exists()
    assert not mail.outbox
