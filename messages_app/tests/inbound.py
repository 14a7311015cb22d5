"""Helpers for tests of the inbound webhook: signed posts and mail items."""

import base64
import json
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from django.urls import reverse

from messages_app.inbound.signatures import compute_signature

EMAILS = Path(__file__).parent / "emails"
SECRET = "test-webhook-secret"


def webhook_url() -> str:
    return reverse("inbound-emails")


def signed_headers(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict:
    """The signature headers (as Django test client extras) for a body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "HTTP_X_SERVICEDESK_TIMESTAMP": stamp,
        "HTTP_X_SERVICEDESK_SIGNATURE": compute_signature(
            secret=secret, timestamp=stamp, body=body
        ),
    }


def post_batch(client, messages: list, **kwargs):
    """POST a signed batch `{"messages": [...]}`; answers the test client's response."""
    body = json.dumps({"messages": messages}).encode()
    return post_body(client, body, **kwargs)


def post_body(client, body: bytes, *, content_type: str = "application/json", **kwargs):
    return client.generic(
        "POST", webhook_url(), body, content_type=content_type, **signed_headers(body, **kwargs)
    )


def fixture_bytes(name: str) -> bytes:
    return (EMAILS / name).read_bytes()


def raw_item(data: bytes, item_id: str | None = None) -> dict:
    item = {"raw": base64.b64encode(data).decode()}
    if item_id is not None:
        item["id"] = item_id
    return item


def fixture_item(name: str, item_id: str | None = None) -> dict:
    return raw_item(fixture_bytes(name), item_id)


def make_mail(
    *,
    sender: str = "Jane Doe <jane@example.com>",
    subject: str = "Printer is broken",
    body: str = "It jams on every page.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict | None = None,
) -> bytes:
    """A small RFC 822 message as bytes."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "Service Desk <support@example.com>"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    if message_id:
        mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(body)
    return bytes(mail)
