"""The webhook against replays and addresses that cannot be answered (issue: hardening)."""

import json
import time

import pytest
from rest_framework.test import APIClient

from messages_app.models import Direction, Message
from messages_app.tests.inbound import (
    SECRET,
    post_batch,
    raw_item,
    signed_headers,
    webhook_url,
)

pytestmark = pytest.mark.django_db

NO_ID = {"user_email": "jane@example.com", "title": "Printer", "description": "It jams."}


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET


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
