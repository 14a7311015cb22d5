"""Replies with files: POST /api/v1/requests/{id}/messages/ as multipart/form-data, the
limits of API.md, and the mail that reaches a real SMTP server with the files attached."""

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from messages_app.attachments import stored_keys
from messages_app.models import Attachment, Direction, Message
from requests_app.models import Status
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n" * 10
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\x00" * 50


@pytest.fixture
def support_request(operator):
    return SupportRequestFactory(
        status=Status.IN_PROGRESS, operator=operator, requester_email="jane@example.com"
    )


def url(support_request) -> str:
    return reverse("request-messages", kwargs={"id": support_request.pk})


def upload(name: str, data: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def assert_nothing_stored():
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    assert not Attachment.objects.exists()
    assert list(stored_keys("attachments", "raw")) == []


def test_a_reply_with_two_files_reaches_the_smtp_server_with_both_attached(
    operator_client, support_request, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            url(support_request),
            {
                "body": "Both files are attached.",
                "attachments": [
                    upload("отчёт.pdf", PDF, "application/pdf"),
                    upload("screen.png", PNG, "image/png"),
                ],
            },
            format="multipart",
        )

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["delivery_status"] == "pending"
    assert [(a["filename"], a["content_type"], a["size"]) for a in data["attachments"]] == [
        ("отчёт.pdf", "application/pdf", len(PDF)),
        ("screen.png", "image/png", len(PNG)),
    ]
    assert all(a["url"] and a["omitted"] is None for a in data["attachments"])
    [mail] = smtp_server.messages
    assert mail["To"] == "jane@example.com"
    assert mail.get_body(("plain",)).get_content().startswith("Both files are attached.")
    files = [
        (part.get_filename(), part.get_content_type(), part.get_content())
        for part in mail.iter_attachments()
    ]
    assert files == [("отчёт.pdf", "application/pdf", PDF), ("screen.png", "image/png", PNG)]
    assert Message.objects.get(pk=data["id"]).delivery_status == "sent"


def test_a_json_reply_still_works_and_lists_no_files(operator_client, support_request):
    response = operator_client.post(url(support_request), {"body": "Hi."}, format="json")

    assert response.status_code == 201
    assert response.json()["attachments"] == []


def test_a_multipart_reply_without_files_is_a_plain_reply(operator_client, support_request):
    response = operator_client.post(
        url(support_request), {"body": "Hi.", "subject": "Paper"}, format="multipart"
    )

    assert response.status_code == 201
    assert response.json()["subject"] == f"Paper [#{support_request.pk}]"


def test_files_up_to_the_count_limit_are_taken_and_one_more_answers_400(
    operator_client, support_request, settings
):
    settings.OUTBOUND_ATTACHMENT_MAX_COUNT = 3
    files = [upload(f"{n}.txt", b"x", "text/plain") for n in range(4)]

    response = operator_client.post(
        url(support_request), {"body": "Files.", "attachments": files}, format="multipart"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["attachments"]
    assert_nothing_stored()
    files = [upload(f"{n}.txt", b"x", "text/plain") for n in range(3)]
    response = operator_client.post(
        url(support_request), {"body": "Files.", "attachments": files}, format="multipart"
    )
    assert response.status_code == 201
    assert len(response.json()["attachments"]) == 3


@pytest.mark.parametrize(
    "sizes",
    [[1001], [600, 401], [200, 200, 200, 200, 201]],
    ids=["one file", "two together", "five together"],
)
def test_files_over_the_byte_limit_answer_413_and_nothing_is_stored(
    operator_client, support_request, settings, sizes
):
    settings.OUTBOUND_ATTACHMENT_MAX_BYTES = 1000
    files = [upload(f"{n}.bin", b"x" * size, "application/zip") for n, size in enumerate(sizes)]

    response = operator_client.post(
        url(support_request), {"body": "Files.", "attachments": files}, format="multipart"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "attachments_too_large"
    assert_nothing_stored()


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    operator_client, support_request, settings
):
    settings.OUTBOUND_ATTACHMENT_MAX_BYTES = 1000
    big = upload("big.iso", b"x" * (2 * 1024 * 1024), "application/octet-stream")

    response = operator_client.post(
        url(support_request), {"body": "Files.", "attachments": [big]}, format="multipart"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "attachments_too_large"
    assert_nothing_stored()


def test_files_exactly_at_the_byte_limit_are_taken(operator_client, support_request, settings):
    settings.OUTBOUND_ATTACHMENT_MAX_BYTES = 1000
    files = [upload("a.bin", b"a" * 600, "application/zip"), upload("b.bin", b"b" * 400, "")]

    response = operator_client.post(
        url(support_request), {"body": "Files.", "attachments": files}, format="multipart"
    )

    assert response.status_code == 201
    assert [a["content_type"] for a in response.json()["attachments"]] == [
        "application/zip",
        "application/octet-stream",
    ]


def test_a_closed_request_refuses_a_reply_with_files_and_keeps_none_of_them(
    operator_client, operator
):
    closed = SupportRequestFactory(closed=True)

    response = operator_client.post(
        url(closed),
        {"body": "Late.", "attachments": [upload("a.pdf", PDF, "application/pdf")]},
        format="multipart",
    )

    assert response.status_code == 409
    assert_nothing_stored()


@pytest.mark.parametrize("field", ["body", "subject"])
def test_a_field_given_twice_is_refused(operator_client, support_request, field):
    data = {"body": "Hi.", field: ["one", "two"]}

    response = operator_client.post(url(support_request), data, format="multipart")

    assert response.status_code == 400
    assert field in response.json()
    assert_nothing_stored()


def test_files_under_another_name_are_refused(operator_client, support_request):
    response = operator_client.post(
        url(support_request),
        {"body": "Hi.", "file": upload("a.pdf", PDF, "application/pdf")},
        format="multipart",
    )

    assert response.status_code == 400
    assert "file" in response.json()
    assert_nothing_stored()


def test_the_worker_reads_the_files_from_storage(
    operator_client, support_request, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            url(support_request),
            {"body": "See file.", "attachments": [upload("a.pdf", PDF, "application/pdf")]},
            format="multipart",
        )

    attachment = Attachment.objects.get(pk=response.json()["attachments"][0]["id"])
    with storages["attachments"].open(attachment.storage_key) as stored:
        assert stored.read() == PDF
    assert mailoutbox[0].attachments[0][0] == "a.pdf"


def test_text_under_the_files_name_is_refused_not_dropped(operator_client, support_request):
    # A part without a filename is a form field, not a file: sent under `attachments`, it
    # would otherwise vanish and the mail go out without what the person meant to attach.
    response = operator_client.post(
        url(support_request),
        {"body": "Files.", "attachments": ["report.pdf"]},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["attachments"] == [
        "Send each file as a file part (with a filename), not as text."
    ]
    assert_nothing_stored()
