"""Mail for tests: RFC 822 messages as bytes, webhook items, and signed webhook posts.

Two ways in: `post_batch`/`post_body` through Django's test client (in-process tests),
`post_webhook` over HTTP (system tests). Both sign as API.md says, HMAC-SHA256 over
`<timestamp>.<body>`, computed here rather than by the app's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from testing.http import HTTPResponse, http

REPO_ROOT = Path(__file__).resolve().parent.parent
EMAILS = REPO_ROOT / "messages_app" / "tests" / "emails"
SECRET = "test-webhook-secret"
WEBHOOK_PATH = "/api/v1/inbound/emails/"
# The fixtures of mail a program sent on its own: stored as mail, never acknowledged.
AUTOMATIC_MAIL_FIXTURES = [
    "outlook_out_of_office.eml",
    "gmail_vacation_auto_reply.eml",
    "mailing_list.eml",
    "noreply_notification.eml",
]


# Messages and items
# ------------------------------------------------------------------------------
def make_mail(
    *,
    sender: str = "Jane Doe <jane@example.com>",
    subject: str = "Printer is broken",
    body: str = "It jams on every page.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
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


def fixture_bytes(name: str) -> bytes:
    """One of the real `.eml` files under messages_app/tests/emails/."""
    return (EMAILS / name).read_bytes()


def raw_item(data: bytes, item_id: str | None = None) -> dict[str, Any]:
    """A webhook item of the raw form: the whole RFC 822 message in base64."""
    item: dict[str, Any] = {"raw": base64.b64encode(data).decode()}
    if item_id is not None:
        item["id"] = item_id
    return item


def fixture_item(name: str, item_id: str | None = None) -> dict[str, Any]:
    return raw_item(fixture_bytes(name), item_id)


def batch_body(messages: list[dict[str, Any]]) -> bytes:
    """The webhook's JSON body, `{"messages": [...]}`."""
    return json.dumps({"messages": messages}).encode()


# Signing
# ------------------------------------------------------------------------------
def signature_headers(
    body: bytes, secret: str = SECRET, *, timestamp: int | None = None
) -> dict[str, str]:
    """The webhook's HTTP headers for `body`: its timestamp and signature, and JSON."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Servicedesk-Timestamp": str(timestamp),
        "X-Servicedesk-Signature": f"sha256={digest.hexdigest()}",
    }


def signed_headers(
    body: bytes, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """The signature headers as Django test client extras (`HTTP_X_SERVICEDESK_...`)."""
    headers = signature_headers(body, secret, timestamp=timestamp)
    return {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in headers.items()
        if name.startswith("X-")
    }


# Posting: through Django's test client
# ------------------------------------------------------------------------------
def webhook_url() -> str:
    from django.urls import reverse

    return reverse("inbound-emails")


def post_batch(client: Any, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    """POST a signed batch `{"messages": [...]}`; answers the test client's response."""
    return post_body(client, batch_body(messages), **kwargs)


def post_body(
    client: Any, body: bytes, *, content_type: str = "application/json", **kwargs: Any
) -> Any:
    """POST `body` signed (`secret=`, `timestamp=` as `signed_headers` takes them)."""
    return client.generic(
        "POST", webhook_url(), body, content_type=content_type, **signed_headers(body, **kwargs)
    )


# Posting: over HTTP, to a running service
# ------------------------------------------------------------------------------
def post_signed(
    base_url: str,
    body: bytes,
    *,
    secret: str,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> HTTPResponse:
    """POST a body signed with `secret` to the service's webhook at `base_url`."""
    return http(
        "POST",
        f"{base_url}{WEBHOOK_PATH}",
        data=body,
        headers={**signature_headers(body, secret), **(headers or {})},
        timeout=timeout,
    )


def post_webhook(
    base_url: str, items: list[dict[str, Any]], *, secret: str, timeout: float = 30
) -> HTTPResponse:
    """Post a signed batch of inbound mail items to the service's webhook."""
    return post_signed(base_url, batch_body(items), secret=secret, timeout=timeout)
