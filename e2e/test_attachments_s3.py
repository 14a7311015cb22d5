"""Attachments with real parts: gunicorn and a Celery worker that share nothing but a
database, Redis and an S3 bucket (a moto server on loopback), and an aiosmtpd server.

A mail with files comes in through the signed webhook, its files download through
gunicorn byte for byte, and an operator's reply with two files leaves the worker's
SMTP connection with both attached: the worker read them from the bucket.
"""

import os
import uuid
from email.message import EmailMessage

import pytest

from testing.environment import require_binaries
from testing.http import http
from testing.mail import post_webhook, raw_item
from testing.processes import ProcessGroup, moto_server, s3_client
from testing.stacks import running_service

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SECRET = "e2e-attachments-secret"
ADMIN = ("e2e-files-admin", "e2e-password-not-secret")
PDF = b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a") + os.urandom(500)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_binaries("redis-server")
    tmp = tmp_path_factory.mktemp("attachments-s3")
    group = ProcessGroup()
    try:
        moto = group.add(moto_server(log_dir=tmp))
        moto.start(timeout=60)
        endpoint = f"http://127.0.0.1:{moto.port}"
        bucket = f"files-{uuid.uuid4().hex[:10]}"
        s3_client(endpoint).create_bucket(Bucket=bucket)
        common = {
            "ATTACHMENTS_S3_BUCKET": bucket,
            "ATTACHMENTS_S3_PREFIX": "servicedesk",
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_S3_ADDRESSING_STYLE": "path",
        }
        # Each process gets a folder of its own: a file it did not write to the bucket
        # cannot be found by accident on a shared disk.
        with running_service(
            tmp,
            secret=SECRET,
            admin=ADMIN,
            broker=True,
            web_workers=1,
            env={**common, "ATTACHMENTS_ROOT": str(tmp / "web-folder")},
            worker_env={**common, "ATTACHMENTS_ROOT": str(tmp / "worker-folder")},
            group=group,
        ) as service:
            yield {
                "base_url": service.base_url,
                "token": service.token,
                "smtp": service.smtp,
                "bucket": bucket,
                "s3": s3_client(endpoint),
                "process_group": group,
            }
    finally:
        group.stop_all()


def multipart(fields: dict[str, str], files: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for filename, data, content_type in files:
        header = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
            f"filename*=UTF-8''{filename}\r\nContent-Type: {content_type}\r\n\r\n"
        )
        parts.append(header.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_files_travel_through_a_bucket_from_web_to_worker(stack):
    auth = {"Authorization": f"Token {stack['token']}"}
    base_url = stack["base_url"]
    mail = EmailMessage()
    mail["From"] = "Jane Doe <jane@example.com>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Scanner output"
    mail.set_content("The scan and a screenshot.")
    mail.add_attachment(PDF, "application", "pdf", filename="scan.pdf")
    mail.add_attachment(PNG, "image", "png", filename="экран.png")
    response = post_webhook(base_url, [raw_item(bytes(mail), "s3-1")], secret=SECRET)
    assert response.status == 200, response.body
    result = response.json()["results"][0]
    assert result["outcome"] == "created", result
    request_id = result["request_id"]

    messages = http("GET", f"{base_url}/api/v1/requests/{request_id}/messages/", headers=auth)
    inbound = messages.json()["results"][0]
    downloads = {}
    for attachment in inbound["attachments"]:
        response = http("GET", attachment["url"], headers=auth)
        assert response.status == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        downloads[attachment["filename"]] = response.body
    assert downloads == {"scan.pdf": PDF, "экран.png": PNG}
    raw = http("GET", inbound["raw_url"], headers=auth)
    assert raw.body == bytes(mail)
    keys = [
        item["Key"]
        for item in stack["s3"].list_objects_v2(Bucket=stack["bucket"]).get("Contents", [])
    ]
    assert all(key.startswith("servicedesk/") for key in keys)
    assert len(keys) == 3  # two files and the raw mail

    body, content_type = multipart(
        {"body": "Here is the fixed driver and the manual."},
        [
            ("driver.zip", b"PK\x03\x04" + os.urandom(2000), "application/zip"),
            ("manual.pdf", PDF, "application/pdf"),
        ],
    )
    reply = http(
        "POST",
        f"{base_url}/api/v1/requests/{request_id}/messages/",
        data=body,
        headers={**auth, "Content-Type": content_type},
    )
    assert reply.status == 201, reply.body
    assert [a["filename"] for a in reply.json()["attachments"]] == ["driver.zip", "manual.pdf"]

    (sent,) = stack["smtp"].wait_for(
        lambda message: message["To"] == "jane@example.com" and "Re:" in message["Subject"],
        timeout=45,
    )
    attached = {part.get_filename(): part.get_content() for part in sent.iter_attachments()}
    assert set(attached) == {"driver.zip", "manual.pdf"}
    assert attached["manual.pdf"] == PDF
    assert attached["driver.zip"].startswith(b"PK\x03\x04")
