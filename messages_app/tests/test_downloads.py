"""GET /api/v1/attachments/{id}/ and GET /api/v1/messages/{id}/raw/: who may, and the
headers that keep a hostile file from running on the service's origin (API.md)."""

import hashlib

import pytest
from django.urls import reverse

from messages_app.attachments import store_bytes, store_raw
from messages_app.downloads import content_disposition, parse_range
from messages_app.models import Attachment, OmittedReason
from messages_app.tests.factories import InboundMessageFactory

pytestmark = pytest.mark.django_db

DATA = bytes(range(256)) * 4  # 1024 bytes


def make_attachment(
    *, data: bytes = DATA, filename: str = "data.bin", content_type: str = "image/png", **kwargs
):
    from messages_app.attachments import served_content_type

    stored = store_bytes(data)
    return Attachment.objects.create(
        message=kwargs.pop("message", None) or InboundMessageFactory(),
        filename=filename,
        content_type=content_type,
        served_content_type=served_content_type(content_type),
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        **kwargs,
    )


def url(attachment) -> str:
    return reverse("attachment-download", kwargs={"id": attachment.pk})


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    ("declared", "served"),
    [
        ("image/png", "image/png"),
        ("application/pdf", "application/pdf"),
        ("text/plain", "text/plain"),
        ("text/html", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("text/xml", "application/octet-stream"),
        ("application/xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("application/x-unknown-thing", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_types_a_browser_would_run_or_render_are_served_as_octet_stream(
    operator_client, declared, served
):
    attachment = make_attachment(content_type=declared, filename="file")

    response = operator_client.get(url(attachment))

    assert response.status_code == 200
    assert response["Content-Type"] == served
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body_of(response) == DATA


@pytest.mark.parametrize(
    ("content_type", "disposition"),
    [
        ("image/png", "inline"),
        ("image/jpeg", "inline"),
        ("image/gif", "inline"),
        ("image/webp", "inline"),
        ("application/pdf", "inline"),
        ("image/svg+xml", "attachment"),
        ("text/html", "attachment"),
        ("text/plain", "attachment"),
        ("image/bmp", "attachment"),
    ],
)
def test_only_images_and_pdf_are_served_inline_on_request(
    operator_client, content_type, disposition
):
    attachment = make_attachment(content_type=content_type, filename="f.x")

    response = operator_client.get(url(attachment), {"disposition": "inline"})

    assert (
        response["Content-Disposition"] == f"{disposition}; filename=\"f.x\"; filename*=UTF-8''f.x"
    )


def test_a_single_range_answers_206_with_that_part(operator_client):
    attachment = make_attachment()

    response = operator_client.get(url(attachment), HTTP_RANGE="bytes=10-19")

    assert response.status_code == 206
    assert body_of(response) == DATA[10:20]
    assert response["Content-Range"] == "bytes 10-19/1024"
    assert response["Content-Length"] == "10"
    assert response["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'


@pytest.mark.parametrize(
    ("header", "part"),
    [("bytes=1000-", DATA[1000:]), ("bytes=-24", DATA[-24:]), ("bytes=1000-5000", DATA[1000:])],
)
def test_open_and_suffix_ranges_are_cut_to_the_file(operator_client, header, part):
    response = operator_client.get(url(make_attachment()), HTTP_RANGE=header)

    assert response.status_code == 206
    assert body_of(response) == part
    assert response["Content-Length"] == str(len(part))


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=9-3", "items=0-5", "bytes=x-y", "bytes=-"]
)
def test_several_or_malformed_ranges_answer_the_whole_file(operator_client, header):
    response = operator_client.get(url(make_attachment()), HTTP_RANGE=header)

    assert response.status_code == 200
    assert body_of(response) == DATA
    assert response["Content-Length"] == "1024"


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_past_the_end_answers_416(operator_client, header):
    response = operator_client.get(url(make_attachment()), HTTP_RANGE=header)

    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1024"
    assert response.json()["code"] == "range_not_satisfiable"


def test_a_range_under_a_stale_if_range_answers_the_whole_file(operator_client):
    response = operator_client.get(
        url(make_attachment()), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"other"'
    )

    assert response.status_code == 200
    assert body_of(response) == DATA


@pytest.mark.parametrize("tag", ['"{}"', 'W/"{}"', '"other", "{}"', "*"])
def test_if_none_match_with_the_etag_answers_304(operator_client, tag):
    attachment = make_attachment()

    response = operator_client.get(
        url(attachment), HTTP_IF_NONE_MATCH=tag.format(attachment.sha256)
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{attachment.sha256}"'


def test_if_none_match_with_another_tag_answers_the_file(operator_client):
    response = operator_client.get(url(make_attachment()), HTTP_IF_NONE_MATCH='"stale"')

    assert response.status_code == 200


def test_downloads_need_credentials_and_an_operator_profile(api_client, user_client):
    attachment = make_attachment()

    assert api_client.get(url(attachment)).status_code == 401
    assert user_client.get(url(attachment)).status_code == 403
    message = attachment.message
    store = store_raw(b"From: a@example.com\r\n\r\nhi")
    message.raw_key, message.raw_size = store.key, store.size
    message.save()
    raw_url = reverse("message-raw", kwargs={"id": message.pk})
    assert api_client.get(raw_url).status_code == 401
    assert user_client.get(raw_url).status_code == 403


def test_omitted_missing_and_unknown_attachments_answer_404(operator_client):
    omitted = Attachment.objects.create(
        message=InboundMessageFactory(),
        filename="huge.iso",
        content_type="application/octet-stream",
        served_content_type="application/octet-stream",
        size=10**9,
        omitted=OmittedReason.TOO_LARGE,
    )
    missing = make_attachment()
    from django.core.files.storage import storages

    storages["attachments"].delete(missing.storage_key)

    for attachment_url in (url(omitted), url(missing), "/api/v1/attachments/999999/"):
        response = operator_client.get(attachment_url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_raw_mail_answers_404_when_none_is_kept(operator_client):
    message = InboundMessageFactory()

    for message_id in (message.pk, 999999):
        response = operator_client.get(reverse("message-raw", kwargs={"id": message_id}))
        assert response.status_code == 404


def test_omitted_files_are_listed_without_a_url(operator_client):
    message = InboundMessageFactory()
    Attachment.objects.create(
        message=message,
        filename="big.zip",
        content_type="application/zip",
        served_content_type="application/zip",
        size=40_000_000,
        omitted=OmittedReason.NOT_FORWARDED,
    )

    listed = operator_client.get(
        reverse("request-messages", kwargs={"id": message.request_id})
    ).json()["results"][0]["attachments"]

    assert listed == [
        {
            "id": message.attachments.get().pk,
            "filename": "big.zip",
            "content_type": "application/zip",
            "size": 40_000_000,
            "inline": False,
            "content_id": None,
            "sha256": None,
            "url": None,
            "omitted": "not_forwarded",
        }
    ]


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        (
            'a"b\\c;d%e.txt',
            "attachment; filename=\"a_b_c_d_e.txt\"; filename*=UTF-8''a%22b%5Cc%3Bd%25e.txt",
        ),
        (
            "отчёт.xlsx",
            "attachment; filename=\"attachment.xlsx\"; filename*=UTF-8''"
            "%D0%BE%D1%82%D1%87%D1%91%D1%82.xlsx",
        ),
        (
            "Café menu.pdf",
            "attachment; filename=\"Cafe menu.pdf\"; filename*=UTF-8''Caf%C3%A9%20menu.pdf",
        ),
    ],
)
def test_content_disposition_has_an_ascii_fallback_and_the_exact_utf8_name(name, header):
    assert content_disposition(name) == header


def test_range_parsing_follows_rfc_9110():
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=" + "9" * 30 + "-", 10) is None
    assert parse_range("", 10) is None


@pytest.mark.parametrize("accept", ["application/pdf", "image/png", "text/html", "*/*"])
def test_a_download_answers_whatever_the_client_accepts(operator_client, api_client, accept):
    attachment = make_attachment(content_type="application/pdf")

    response = operator_client.get(url(attachment), HTTP_ACCEPT=accept)
    refused = api_client.get(url(attachment), HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert body_of(response) == DATA
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/json"
