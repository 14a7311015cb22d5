"""The webhook and attachments: large mail, limits, and the field form's
`attachments_omitted` (API.md, "Inbound email webhook" and "Large mail")."""

import json
import os
from email.message import EmailMessage

import pytest
from django.core.files.storage import storages

from messages_app.models import Attachment, Message
from testing.mail import SECRET, post_batch, post_body, raw_item

pytestmark = pytest.mark.django_db

JANE = {"user_email": "Jane Doe <jane@example.com>", "title": "Huge scan", "description": "Hi."}


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET


def mail_with_file(size: int, *, subject: str = "Scan") -> bytes:
    message = EmailMessage()
    message["From"] = "Jane <jane@example.com>"
    message["Subject"] = subject
    message.set_content("The scan is attached.")
    message.add_attachment(os.urandom(size), "image", "tiff", filename="scan.tiff")
    return bytes(message)


@pytest.mark.slow
def test_a_30_mib_raw_mail_is_accepted_alone_with_its_file_whole(client):
    data = mail_with_file(22 * 1024 * 1024)
    body = json.dumps({"messages": [raw_item(data, "big-1")]}).encode()
    assert 29 * 1024 * 1024 < len(data) < 31 * 1024 * 1024 < len(body) < 48 * 1024 * 1024

    response = post_body(client, body)

    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "created"
    attachment = Attachment.objects.get()
    assert attachment.size == 22 * 1024 * 1024
    assert attachment.omitted is None
    with storages["attachments"].open(attachment.storage_key) as stored:
        assert stored.size == attachment.size


def test_files_over_the_limits_are_listed_as_omitted_and_the_mail_is_stored(client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENT_MAX_COUNT = 1
    message = EmailMessage()
    message["From"] = "jane@example.com"
    message["Subject"] = "Many"
    message.set_content("Files.")
    message.add_attachment(b"x" * 1001, "application", "octet-stream", filename="big.bin")
    message.add_attachment(b"small", "text", "plain", filename="a.txt")
    message.add_attachment(b"small too", "text", "plain", filename="b.txt")

    response = post_batch(client, [raw_item(bytes(message))])

    assert response.json()["results"][0]["outcome"] == "created"
    rows = list(Attachment.objects.values_list("filename", "size", "omitted", "storage_key"))
    assert [row[:3] for row in rows] == [
        ("big.bin", 1001, "too_large"),
        ("a.txt", 5, None),
        ("b.txt", 9, "too_many"),
    ]
    assert [bool(row[3]) for row in rows] == [False, True, False]


def test_field_form_records_the_files_the_forwarder_left_out(client):
    item = {
        **JANE,
        "id": "g-1",
        "attachments_omitted": [
            {"filename": "scan.tiff", "content_type": "image/tiff", "size": 41_943_040},
            {"filename": "notes.docx", "content_type": "application/msword", "size": 12},
        ],
    }

    response = post_batch(client, [item])

    assert response.json()["results"][0]["outcome"] == "created"
    message = Message.objects.get(external_id="g-1")
    assert message.raw_key == ""
    assert list(message.attachments.values_list("filename", "size", "omitted", "storage_key")) == [
        ("scan.tiff", 41_943_040, "not_forwarded", ""),
        ("notes.docx", 12, "not_forwarded", ""),
    ]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("scan.tiff", "attachments_omitted"),
        ([{"filename": "a", "content_type": "b", "size": "12"}], "attachments_omitted.0.size"),
        ([{"filename": "a", "content_type": "b", "size": 1.5}], "attachments_omitted.0.size"),
        ([{"filename": "a", "content_type": "b", "size": True}], "attachments_omitted.0.size"),
        ([{"filename": "a", "content_type": "b", "size": -1}], "attachments_omitted.0.size"),
        ([{"filename": "a", "content_type": "b", "size": 2**70}], "attachments_omitted.0.size"),
        ([{"filename": 5, "content_type": "b", "size": 1}], "attachments_omitted.0.filename"),
        ([{"content_type": "b", "size": 1}], "attachments_omitted.0.filename"),
        (["scan.tiff"], "attachments_omitted.0.non_field_errors"),
        ([{"filename": "a", "content_type": "b", "size": 1}] * 1001, "attachments_omitted"),
    ],
)
def test_field_form_with_a_bad_attachments_omitted_is_rejected_alone(client, value, field):
    response = post_batch(client, [{**JANE, "attachments_omitted": value}, JANE])

    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["outcome"] == "rejected"
    assert field in first["errors"]
    assert second["outcome"] == "created"
    assert not Attachment.objects.exists()
