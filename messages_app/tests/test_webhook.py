"""The HTTP contract of POST /api/v1/inbound/emails/ (API.md)."""

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from messages_app.models import Direction, Message
from requests_app.models import SupportRequest
from testing.mail import (
    SECRET,
    fixture_item,
    make_mail,
    post_batch,
    post_body,
    raw_item,
    signed_headers,
    webhook_url,
)

pytestmark = pytest.mark.django_db

JANE = {"user_email": "Jane Doe <jane@example.com>", "title": "Printer", "description": "Jams."}


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET


@pytest.fixture
def client():
    # CSRF checks on: the webhook must not depend on a session or a CSRF token.
    return APIClient(enforce_csrf_checks=True)


def assert_nothing_stored():
    assert not Message.objects.exists()
    assert not SupportRequest.objects.exists()


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == code
    assert body["detail"]


# --- authentication ----------------------------------------------------------------


def test_webhook_answers_503_and_stores_nothing_without_a_configured_secret(client, settings):
    settings.INBOUND_WEBHOOK_SECRET = ""
    response = post_batch(client, [JANE], secret="")
    assert_error(response, 503, "webhook_not_configured")
    assert "INBOUND_WEBHOOK_SECRET" in response.json()["detail"]
    assert_nothing_stored()


def test_webhook_answers_401_without_signature_headers(client):
    body = json.dumps({"messages": [JANE]}).encode()
    response = client.generic("POST", webhook_url(), body, content_type="application/json")
    assert_error(response, 401, "invalid_signature")
    assert_nothing_stored()


def test_webhook_answers_401_for_a_signature_with_another_secret(client):
    assert_error(post_batch(client, [JANE], secret="guess"), 401, "invalid_signature")
    assert_nothing_stored()


def test_webhook_answers_401_when_the_body_was_changed_after_signing(client):
    body = json.dumps({"messages": [JANE]}).encode()
    headers = signed_headers(body)
    tampered = body.replace(b"Jams", b"Jamz")
    response = client.generic(
        "POST", webhook_url(), tampered, content_type="application/json", **headers
    )
    assert_error(response, 401, "invalid_signature")
    assert_nothing_stored()


# The clock stands still in these cases: a slow machine must not move a timestamp across
# the edge of the window between signing and checking.
FROZEN_NOW = 1_795_000_000


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_webhook_answers_401_for_a_timestamp_outside_300_seconds(client, skew):
    with freeze_time(datetime.fromtimestamp(FROZEN_NOW, tz=UTC)):
        response = post_batch(client, [JANE], timestamp=FROZEN_NOW + skew)
    assert_error(response, 401, "invalid_signature")
    assert_nothing_stored()


@pytest.mark.parametrize("skew", [-300, 300, -290, 290])
def test_webhook_accepts_a_timestamp_within_300_seconds(client, skew):
    with freeze_time(datetime.fromtimestamp(FROZEN_NOW, tz=UTC)):
        response = post_batch(client, [JANE], timestamp=FROZEN_NOW + skew)
    assert response.status_code == 200


def test_webhook_ignores_session_authentication(client, operator):
    client.force_login(operator.user)
    assert_error(post_batch(client, [JANE], secret="guess"), 401, "invalid_signature")


def test_webhook_answers_405_as_json_for_other_methods(client):
    response = client.get(webhook_url())
    assert_error(response, 405, "method_not_allowed")


# --- the body ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_webhook_answers_415_for_another_content_type(client, content_type):
    body = json.dumps({"messages": [JANE]}).encode()
    response = post_body(client, body, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert_nothing_stored()


def test_webhook_accepts_json_with_a_charset_parameter(client):
    body = json.dumps({"messages": [JANE]}).encode()
    response = post_body(client, body, content_type="application/json; charset=utf-8")
    assert response.status_code == 200


def test_webhook_answers_413_for_a_body_over_the_cap(client, settings):
    settings.INBOUND_MAX_BODY_BYTES = 1000
    big = {**JANE, "description": "x" * 2000}
    response = post_batch(client, [big])
    assert_error(response, 413, "payload_too_large")
    assert_nothing_stored()


def test_webhook_answers_413_from_content_length_before_reading(client, settings):
    settings.INBOUND_MAX_BODY_BYTES = 1000
    body = json.dumps({"messages": [JANE]}).encode()
    response = client.generic(
        "POST",
        webhook_url(),
        body,
        content_type="application/json",
        CONTENT_LENGTH="5000000",
        **signed_headers(body),
    )
    assert_error(response, 413, "payload_too_large")


def test_django_lets_a_body_of_the_full_cap_through(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= settings.INBOUND_MAX_BODY_BYTES
    assert settings.INBOUND_MAX_BODY_BYTES == 48 * 1024 * 1024


def test_webhook_answers_413_for_more_items_than_the_batch_cap(client, settings):
    settings.INBOUND_MAX_BATCH = 3
    response = post_batch(client, [JANE] * 4)
    assert_error(response, 413, "too_many_messages")
    assert_nothing_stored()


def test_webhook_accepts_a_full_batch(client, settings):
    settings.INBOUND_MAX_BATCH = 3
    response = post_batch(client, [{**JANE, "description": f"Mail {n}"} for n in range(3)])
    assert response.status_code == 200
    assert response.json()["summary"] == {
        "created": 1,
        "appended": 2,
        "duplicate": 0,
        "ignored": 0,
        "rejected": 0,
    }


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"messages": [}', b"[" * 100_000])
def test_webhook_answers_400_for_malformed_json(client, body):
    assert_error(post_body(client, body), 400, "parse_error")
    assert_nothing_stored()


@pytest.mark.parametrize("payload", [[], [JANE], "messages", 5, None])
def test_webhook_answers_400_when_the_body_is_not_an_object(client, payload):
    assert_error(post_body(client, json.dumps(payload).encode()), 400, "parse_error")
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "This field is required."),
        ({"message": [JANE]}, "This field is required."),
        ({"messages": []}, "This list may not be empty."),
        ({"messages": "x"}, 'Expected a list of items but got type "str".'),
        ({"messages": {"0": JANE}}, 'Expected a list of items but got type "dict".'),
        ({"messages": None}, 'Expected a list of items but got type "NoneType".'),
    ],
)
def test_webhook_answers_400_with_field_errors_for_a_wrong_messages_field(client, payload, message):
    response = post_body(client, json.dumps(payload).encode())
    assert response.status_code == 400
    assert response.json() == {"messages": [message]}
    assert_nothing_stored()


# --- items ------------------------------------------------------------------------------


def test_response_reports_each_outcome_in_the_contract_shape(client):
    jane = fixture_item("new_request.eml", "gmail-1")
    response = post_batch(
        client,
        [
            jane,
            {"user_email": "not an address", "title": "x"},
            fixture_item("dsn_bounce.eml", "gmail-2"),
            fixture_item("gmail_reply.eml", "gmail-3"),
        ],
    )
    assert response.status_code == 200
    results = response.json()["results"]
    message = Message.objects.get(external_id="gmail-1")
    assert results[0] == {
        "index": 0,
        "id": "gmail-1",
        "outcome": "created",
        "request_id": message.request_id,
        "message_id": message.pk,
    }
    assert results[1] == {
        "index": 1,
        "id": None,
        "outcome": "rejected",
        "errors": {"user_email": ["Enter a valid email address."]},
    }
    assert results[2] == {"index": 2, "id": "gmail-2", "outcome": "ignored"}
    assert results[3]["outcome"] == "created"
    assert response.json()["summary"] == {
        "created": 2,
        "appended": 0,
        "duplicate": 0,
        "ignored": 1,
        "rejected": 1,
    }
    again = post_batch(client, [jane]).json()["results"][0]
    assert again == {**results[0], "outcome": "duplicate"}


def test_bad_items_are_rejected_and_never_affect_the_others(client):
    response = post_batch(
        client,
        [
            JANE,
            {"user_email": "bob@example.com", "title": 5},
            {"user_email": "bob@example.com", "headers": ["Auto-Submitted: no"]},
            {"user_email": ["bob@example.com"]},
            {"raw": "%%% not base64 %%%", "id": "x1"},
            {"raw": base64.b64encode(b"Subject: no sender\r\n\r\nhi").decode(), "id": "x2"},
            {"raw": 42},
            {"id": "only-an-id"},
            "a string",
            None,
            {"user_email": "bob@example.com", "id": "i" * 256},
            {"user_email": "bob@example.com", "description": "nul \x00 byte"},
            {"user_email": "bob@example.com", "description": "lone \ud800 surrogate"},
            {**JANE, "title": "second"},
        ],
    )
    assert response.status_code == 200
    outcomes = [r["outcome"] for r in response.json()["results"]]
    assert outcomes == ["created"] + ["rejected"] * 12 + ["appended"]
    errors = [r.get("errors") for r in response.json()["results"]]
    assert errors[1] == {"title": ["Not a valid string."]}
    assert "headers" in errors[2]
    assert errors[3] == {"user_email": ["Not a valid string."]}
    assert errors[4] == {"raw": ["This is not valid base64."]}
    assert errors[5] == {"raw": ["The message has no usable sender address."]}
    assert errors[6] == {"raw": ["Not a valid string."]}
    assert "non_field_errors" in errors[7]
    assert "non_field_errors" in errors[8]
    assert errors[10] == {"id": ["Ensure this field has no more than 255 characters."]}
    assert "description" in errors[11]
    assert "description" in errors[12]
    assert response.json()["results"][4]["id"] == "x1"
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 2
    assert SupportRequest.objects.count() == 1


def test_null_optional_fields_read_as_empty(client):
    item = {
        "user_email": "jane@example.com",
        "id": None,
        "title": None,
        "description": None,
        "message_id": None,
        "in_reply_to": None,
        "references": None,
        "date": None,
        "html": None,
        "headers": None,
    }
    response = post_batch(client, [item])
    assert response.json()["results"][0]["outcome"] == "created"
    message = Message.objects.get(direction=Direction.INBOUND)
    assert message.subject == ""
    assert message.external_id is None


def test_raw_item_in_url_safe_base64_without_padding_is_accepted(client):
    data = make_mail(subject="Größe ändern?", message_id="<urlsafe@example.com>")
    item = {"raw": base64.urlsafe_b64encode(data).decode().rstrip("="), "id": "u1"}
    response = post_batch(client, [item])
    assert response.json()["results"][0]["outcome"] == "created"
    assert Message.objects.get(external_id="u1").subject == "Größe ändern?"


def test_webhook_stores_raw_fixtures_with_their_parsed_fields(client):
    response = post_batch(client, [fixture_item("attachments.eml", "att-1")])
    assert response.json()["results"][0]["outcome"] == "created"
    message = Message.objects.get(external_id="att-1")
    assert message.author_email == "jane@example.com"
    assert message.author_name == "Jane Doe"
    assert [a.filename for a in message.attachments.all()] == [
        "screenshot.png",
        "invoice-2026-11.pdf",
        "отчёт.xlsx",
    ]
    assert message.rfc_message_id == "<attachments-0001@example.com>"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=20),
            st.dictionaries(
                st.sampled_from(
                    ["raw", "id", "user_email", "title", "description", "headers", "date", "html"]
                ),
                st.one_of(
                    st.none(),
                    st.integers(),
                    st.text(max_size=40),
                    st.lists(st.text(max_size=5), max_size=2),
                    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
                ),
                max_size=6,
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_no_batch_shape_makes_the_webhook_answer_5xx(client, items):
    response = post_batch(client, items)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert sum(response.json()["summary"].values()) == len(items)


def test_raw_fixture_posted_through_the_api_creates_a_request_and_acknowledges_it(client):
    post_batch(client, [raw_item(make_mail(), "m-1")])
    support_request = SupportRequest.objects.get()
    assert support_request.requester_email == "jane@example.com"
    ack = Message.objects.get(direction=Direction.OUTBOUND)
    assert support_request.token in ack.subject


def test_errors_inside_headers_are_flat_lists_keyed_by_their_path(client):
    response = post_batch(
        client, [{"user_email": "bob@example.com", "headers": {"X-Mailer": None}}]
    )

    result = response.json()["results"][0]
    assert result["outcome"] == "rejected"
    assert result["errors"] == {"headers.X-Mailer": ["This field may not be null."]}


# --- replays and addresses that cannot be answered ----------------------------------------

NO_ID = {"user_email": "jane@example.com", "title": "Printer", "description": "It jams."}


def test_a_replayed_field_item_without_any_id_is_a_duplicate():
    client = APIClient()
    body = json.dumps({"messages": [NO_ID]}).encode()
    headers = signed_headers(body, timestamp=int(time.time()) - 60)

    first = client.generic("POST", webhook_url(), body, content_type="application/json", **headers)
    replay = client.generic("POST", webhook_url(), body, content_type="application/json", **headers)

    assert first.status_code == replay.status_code == 200
    (created,) = first.json()["results"]
    (again,) = replay.json()["results"]
    assert created["outcome"] == "created"
    assert again["outcome"] == "duplicate"
    assert again["message_id"] == created["message_id"]
    assert again["request_id"] == created["request_id"]
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1


def test_the_made_up_message_id_never_threads_outbound_mail(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_batch(APIClient(), [NO_ID])

    assert response.json()["results"][0]["outcome"] == "created"
    (ack,) = mailoutbox
    assert "In-Reply-To" not in ack.extra_headers
    assert "References" not in ack.extra_headers


def test_a_field_item_whose_address_has_a_non_ascii_local_part_is_rejected():
    response = post_batch(APIClient(), [{**NO_ID, "user_email": "jöran@example.com"}])

    (result,) = response.json()["results"]
    assert result["outcome"] == "rejected"
    assert result["errors"] == {
        "user_email": [
            "Enter an address with only ASCII characters before the @: mail to this one "
            "cannot be sent."
        ]
    }
    assert not Message.objects.exists()


def test_a_raw_mail_from_a_non_ascii_local_part_is_rejected():
    # As an SMTPUTF8 mail carries it: the header in raw UTF-8.
    mail = (
        "From: Jöran <jöran@example.com>\r\nTo: support@example.com\r\n"
        "Subject: Hej\r\nMessage-ID: <utf8@example.com>\r\n\r\nHello.\r\n"
    ).encode()

    response = post_batch(APIClient(), [raw_item(mail, "gmail-1")])

    (result,) = response.json()["results"]
    assert result["outcome"] == "rejected"
    assert not Message.objects.exists()


def test_an_internationalised_domain_is_still_accepted():
    response = post_batch(APIClient(), [{**NO_ID, "user_email": "jane@bücher.example"}])

    assert response.json()["results"][0]["outcome"] == "created"


def test_an_operator_email_with_a_non_ascii_local_part_is_refused(staff_client):
    response = staff_client.post(
        "/api/v1/operators/",
        {"username": "joran", "name": "Jöran", "email": "jöran@example.com"},
        format="json",
    )

    assert response.status_code == 400
    assert "email" in response.json()
