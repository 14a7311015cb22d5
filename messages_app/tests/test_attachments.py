"""Attachments end to end: mail in through the webhook, files out through the download
view, on the folder storage and on a real S3 server (moto, on loopback); deletion and
the orphan sweep."""

import hashlib
import os
import subprocess
import sys
import uuid
from email.message import EmailMessage
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.urls import reverse

from messages_app.attachments import delete_requests, store_bytes
from messages_app.models import Attachment, Message
from requests_app.models import SupportRequest
from testing.mail import SECRET, make_mail, post_batch, raw_item
from testing.processes import moto_server, s3_client

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6364f8ff3f0005fe02fea7d6a5b00000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML_FILE = b"<html><body><script>alert(document.cookie)</script>Invoice</body></html>"
CYRILLIC_NAME = "снимок экрана.png"
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A real S3 server (moto) in its own process on a free loopback port."""
    process = moto_server(log_dir=tmp_path_factory.mktemp("moto"))
    try:
        process.start(timeout=60)
    except (OSError, subprocess.SubprocessError, TimeoutError) as exc:
        pytest.fail(f"moto server did not start: {exc}")
    yield f"http://127.0.0.1:{process.port}"
    process.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """STORAGES["attachments"] on a fresh bucket of the moto server."""
    bucket = f"attachments-{uuid.uuid4().hex[:12]}"
    credentials = {"access_key": "testing", "secret_key": "testing"}
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "file_overwrite": True,
                "default_acl": None,
                "location": "sd",
                **credentials,
            },
        },
    }
    return storages["attachments"]


@pytest.fixture(params=["folder", "s3"])
def storage(request):
    """Each test of this kind runs on the folder storage and on S3."""
    if request.param == "s3":
        return request.getfixturevalue("s3_storage")
    return storages["attachments"]


def evidence_mail() -> bytes:
    """A mail with a PDF, an inline image, an HTML file, a Cyrillic-named PNG and an
    attached mail."""
    forwarded = EmailMessage()
    forwarded["From"] = "Bob <bob@example.org>"
    forwarded["To"] = "jane@example.com"
    forwarded["Subject"] = "Original error report"
    forwarded.set_content("The printer shows error E-1234 on every start.")

    mail = EmailMessage()
    mail["From"] = "Jane Doe <jane@example.com>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Printer evidence"
    mail["Message-ID"] = "<evidence-1@example.com>"
    mail.set_content("Everything is attached.")
    mail.add_alternative('<p>Everything is attached.</p><img src="cid:shot@example.com">', "html")
    mail.get_payload()[1].add_related(
        PNG, "image", "png", cid="<shot@example.com>", filename="shot.png"
    )
    mail.add_attachment(PDF, "application", "pdf", filename="invoice.pdf")
    mail.add_attachment(HTML_FILE, "text", "html", filename="invoice.html")
    mail.add_attachment(PNG, "image", "png", filename=CYRILLIC_NAME)
    mail.add_attachment(forwarded)
    return bytes(mail)


def ingest(client, data: bytes, item_id: str = "evidence-1") -> Message:
    response = post_batch(client, [raw_item(data, item_id)])
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["outcome"] in ("created", "appended"), result
    return Message.objects.get(pk=result["message_id"])


def download(client, url: str, **headers):
    response = client.get(url, **headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_every_file_of_a_mail_downloads_byte_for_byte_with_safe_headers(
    client, operator_client, storage
):
    data = evidence_mail()
    message = ingest(client, data)

    listed = operator_client.get(
        reverse("request-messages", kwargs={"id": message.request_id})
    ).json()["results"][0]
    files = listed["attachments"]
    assert [(f["filename"], f["content_type"], f["inline"]) for f in files] == [
        ("shot.png", "image/png", True),
        ("invoice.pdf", "application/pdf", False),
        ("invoice.html", "text/html", False),
        (CYRILLIC_NAME, "image/png", False),
        ("Original error report.eml", "message/rfc822", False),
    ]
    assert files[0]["content_id"] == "shot@example.com"
    assert listed["raw_url"] == f"http://testserver/api/v1/messages/{message.pk}/raw/"
    expected = {"shot.png": PNG, "invoice.pdf": PDF, "invoice.html": HTML_FILE, CYRILLIC_NAME: PNG}
    served_types = {"invoice.html": "application/octet-stream"}
    for item in files:
        assert item["omitted"] is None
        assert item["url"] == f"http://testserver/api/v1/attachments/{item['id']}/"
        response, body = download(operator_client, item["url"])
        assert response.status_code == 200
        if item["filename"] in expected:
            assert body == expected[item["filename"]]
        else:
            assert b"Subject: Original error report" in body
            assert b"error E-1234" in body
        assert item["size"] == len(body)
        assert item["sha256"] == hashlib.sha256(body).hexdigest()
        assert response["Content-Type"] == served_types.get(item["filename"], item["content_type"])
        assert response["Content-Length"] == str(len(body))
        assert response["ETag"] == f'"{item["sha256"]}"'
        assert response["Content-Disposition"].startswith("attachment; filename=")
        for name, value in SAFE_HEADERS.items():
            assert response[name] == value
    cyrillic = files[3]
    assert download(operator_client, cyrillic["url"])[0]["Content-Disposition"] == (
        "attachment; filename=\"attachment.png\"; filename*=UTF-8''"
        "%D1%81%D0%BD%D0%B8%D0%BC%D0%BE%D0%BA%20%D1%8D%D0%BA%D1%80%D0%B0%D0%BD%D0%B0.png"
    )
    # The attached mail's text is searchable with the rest of the body; the inline image
    # is shown from its download URL.
    message.refresh_from_db()
    assert "error E-1234" in message.body
    assert message.reply == "Everything is attached."
    assert f'src="/api/v1/attachments/{files[0]["id"]}/?disposition=inline"' in message.html
    raw_response, raw_body = download(operator_client, listed["raw_url"])
    assert raw_response.status_code == 200
    assert raw_body == data
    assert raw_response["Content-Type"] == "message/rfc822"
    assert raw_response["Content-Disposition"] == (
        f'attachment; filename="message-{message.pk}.eml"; '
        f"filename*=UTF-8''message-{message.pk}.eml"
    )


def test_raw_mail_is_kept_as_it_arrived_compressed(client, operator_client, storage):
    data = evidence_mail()
    message = ingest(client, data)

    _, body = download(operator_client, reverse("message-raw", kwargs={"id": message.pk}))

    assert body == data
    assert message.raw_size == len(data)
    assert message.raw_key.endswith(".eml.gz")
    with storage.open(message.raw_key) as stored:
        assert stored.read(2) == b"\x1f\x8b"


def test_identical_files_are_stored_once_and_survive_until_their_last_message_goes(
    client, storage, django_capture_on_commit_callbacks
):
    first = ingest(client, evidence_mail(), "a")
    second = ingest(client, make_mail(sender="bob@example.org"), "b")
    Attachment.objects.create(
        message=second,
        filename="copy.pdf",
        content_type="application/pdf",
        served_content_type="application/pdf",
        size=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
        storage_key=first.attachments.get(filename="invoice.pdf").storage_key,
    )
    pdf_key = second.attachments.get().storage_key
    png_keys = set(
        first.attachments.filter(content_type="image/png").values_list("storage_key", flat=True)
    )
    assert len(png_keys) == 1  # the inline image and the Cyrillic-named one: same bytes

    with django_capture_on_commit_callbacks(execute=True):
        delete_requests(request_ids=[first.request_id])

    assert storage.exists(pdf_key)
    assert not any(storage.exists(key) for key in png_keys)
    assert not storage.exists(first.raw_key)
    assert storage.exists(second.raw_key)


def test_deleting_a_request_removes_its_files_and_the_sweep_then_finds_nothing(
    client, storage, django_capture_on_commit_callbacks
):
    message = ingest(client, evidence_mail())
    keys = [*message.attachments.values_list("storage_key", flat=True), message.raw_key]
    assert all(storage.exists(key) for key in keys)

    with django_capture_on_commit_callbacks(execute=True):
        delete_requests(request_ids=[message.request_id])

    assert not SupportRequest.objects.exists()
    assert not Attachment.objects.exists()
    assert not any(storage.exists(key) for key in keys)
    out = StringIO()
    call_command("sweep_attachments", "--min-age", "0", stdout=out)
    assert "deleted 0 unused" in out.getvalue()


def test_the_sweep_deletes_files_no_row_names_and_keeps_the_rest(client, storage):
    message = ingest(client, evidence_mail())
    orphan = store_bytes(b"left behind by a crash")

    out = StringIO()
    call_command("sweep_attachments", "--min-age", "0", "--dry-run", stdout=out)
    assert f"would delete {orphan.key}" in out.getvalue()
    assert storage.exists(orphan.key)

    call_command("sweep_attachments", "--min-age", "0", stdout=StringIO())
    assert not storage.exists(orphan.key)
    for attachment in message.attachments.all():
        assert storage.exists(attachment.storage_key)
    assert storage.exists(message.raw_key)

    fresh = store_bytes(b"written by a batch that has not committed yet")
    call_command("sweep_attachments", stdout=StringIO())
    assert storage.exists(fresh.key)


def test_admin_deletes_requests_with_their_files(
    api_client, storage, operator_admin_client, django_capture_on_commit_callbacks
):
    message = ingest(api_client, evidence_mail())
    keys = [*message.attachments.values_list("storage_key", flat=True), message.raw_key]
    url = reverse("admin:requests_app_supportrequest_changelist")

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_admin_client.post(
            url,
            {"action": "delete_selected", "_selected_action": [message.request_id], "post": "yes"},
        )

    assert response.status_code == 302
    assert not SupportRequest.objects.exists()
    assert not any(storage.exists(key) for key in keys)


def test_admin_shows_a_messages_files_and_raw_mail_through_the_download_view(
    client, operator_admin_client
):
    message = ingest(client, evidence_mail())

    page = operator_admin_client.get(
        reverse("admin:messages_app_message_change", args=[message.pk])
    )

    html = page.content.decode()
    for attachment in message.attachments.all():
        assert f'href="/api/v1/attachments/{attachment.pk}/"' in html
    assert f'href="/api/v1/messages/{message.pk}/raw/"' in html
    assert "invoice.pdf" in html
    # The admin's session is an operator's credential for the download view too.
    attachment = message.attachments.get(filename="invoice.pdf")
    assert download(operator_admin_client, f"/api/v1/attachments/{attachment.pk}/")[1] == PDF


def test_the_environment_points_the_storage_at_a_bucket(s3_endpoint, tmp_path):
    """ATTACHMENTS_S3_BUCKET and the AWS_* variables, as .env.sample documents them, make
    a process store and read its files in the bucket."""
    bucket = f"env-{uuid.uuid4().hex[:12]}"
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "servicedesk.settings.local",
        "READ_DOT_ENV": "false",
        "ATTACHMENTS_S3_BUCKET": bucket,
        "ATTACHMENTS_S3_PREFIX": "files",
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_S3_ADDRESSING_STYLE": "path",
    }
    script = (
        "import django; django.setup()\n"
        "from messages_app.attachments import store_bytes, read_bytes\n"
        "stored = store_bytes(b'from the environment')\n"
        "assert read_bytes(stored.key) == b'from the environment'\n"
        "print(stored.key)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    stored = client.get_object(Bucket=bucket, Key=f"files/{key}")["Body"].read()
    assert stored == b"from the environment"


def test_the_admin_lists_every_stored_file_with_its_download_link(
    api_client, operator_admin_client
):
    message = ingest(api_client, evidence_mail())
    pdf = message.attachments.get(filename="invoice.pdf")

    page = operator_admin_client.get(
        reverse("admin:messages_app_attachment_changelist"), {"q": "invoice.pdf"}
    )

    assert page.status_code == 200
    assert f'href="/api/v1/attachments/{pdf.pk}/"' in page.content.decode()
    detail = operator_admin_client.get(
        reverse("admin:messages_app_attachment_change", args=[pdf.pk])
    )
    assert detail.status_code == 200


def test_deleting_an_attachment_in_the_admin_deletes_bytes_no_one_else_uses(
    api_client, operator_admin_client, django_capture_on_commit_callbacks
):
    message = ingest(api_client, evidence_mail())
    pdf = message.attachments.get(filename="invoice.pdf")
    png = message.attachments.get(filename=CYRILLIC_NAME)
    storage = storages["attachments"]

    with django_capture_on_commit_callbacks(execute=True):
        for attachment in (pdf, png):
            operator_admin_client.post(
                reverse("admin:messages_app_attachment_delete", args=[attachment.pk]),
                {"post": "yes"},
            )

    assert not message.attachments.filter(pk__in=[pdf.pk, png.pk]).exists()
    assert not storage.exists(pdf.storage_key)
    # The inline image has the same bytes and still uses them.
    assert storage.exists(png.storage_key)
