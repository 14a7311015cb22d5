"""`manage.py reparse_mail`: stored raw mail parsed again, in place and idempotently."""

from datetime import timedelta
from email.message import EmailMessage
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from messages_app.models import Attachment, Message
from testing.mail import SECRET, post_batch, raw_item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET


def mail_with_files(sender: str = "jane@example.com") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["Subject"] = "Logs"
    message["Message-ID"] = f"<logs-{sender}@example.com>"
    message.set_content("Logs attached.")
    message.add_attachment(b"%PDF-1.4", "application", "pdf", filename="a.pdf")
    message.add_attachment(b"ERROR", "text", "plain", filename="app.log")
    return bytes(message)


def ingest(client, data: bytes, item_id: str) -> Message:
    result = post_batch(client, [raw_item(data, item_id)]).json()["results"][0]
    return Message.objects.get(pk=result["message_id"])


def reparse(*args) -> str:
    out = StringIO()
    call_command("reparse_mail", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot(message: Message) -> tuple:
    message.refresh_from_db()
    rows = list(
        message.attachments.order_by("position").values_list(
            "pk", "filename", "sha256", "storage_key", "omitted"
        )
    )
    return (message.request_id, message.body, message.reply, message.html, rows)


def test_reparse_restores_what_the_parser_reads_without_changing_routing_or_ids(client):
    message = ingest(client, mail_with_files(), "m-1")
    before = snapshot(message)
    # What an older parser stored: no body, and the log file missing.
    Message.objects.filter(pk=message.pk).update(body="", reply="")
    message.attachments.filter(filename="app.log").delete()
    message.attachments.update(omitted="not_forwarded", storage_key="", sha256="")

    assert "1 changed" in reparse()

    after = snapshot(message)
    assert after[:4] == before[:4]
    assert [row[1:] for row in after[4]] == [row[1:] for row in before[4]]
    assert after[4][0][0] == before[4][0][0]  # the first row kept its id
    assert message.request.messages.filter(direction="inbound").count() == 1


def test_reparse_is_idempotent(client):
    message = ingest(client, mail_with_files(), "m-1")
    before = snapshot(message)

    assert "0 changed, 1 unchanged" in reparse()
    assert "0 changed, 1 unchanged" in reparse()
    assert snapshot(message) == before


def test_reparse_drops_rows_the_mail_no_longer_has(client):
    message = ingest(client, mail_with_files(), "m-1")
    Attachment.objects.create(
        message=message,
        position=9,
        filename="ghost.bin",
        content_type="application/octet-stream",
        served_content_type="application/octet-stream",
        omitted="too_many",
    )

    reparse()

    assert list(message.attachments.values_list("filename", flat=True)) == ["a.pdf", "app.log"]


def test_reparse_takes_only_the_chosen_requests_and_times(client):
    first = ingest(client, mail_with_files("jane@example.com"), "m-1")
    second = ingest(client, mail_with_files("bob@example.com"), "m-2")
    Message.objects.update(body="")
    Message.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=10))

    assert "Re-parsed 1 message(s): 1 changed" in reparse("--request", str(second.request_id))
    first.refresh_from_db()
    assert first.body == ""
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert "Re-parsed 1 message(s): 0 changed" in reparse("--since", since)
    first.refresh_from_db()
    assert first.body == ""
    assert "Re-parsed 2 message(s): 1 changed" in reparse("--since", "2000-01-01")


def test_field_form_mail_has_no_raw_mail_to_reparse(client):
    post_batch(client, [{"user_email": "jane@example.com", "description": "Hi."}])

    assert "Re-parsed 0 message(s)" in reparse()


def test_a_bad_since_is_refused():
    with pytest.raises(CommandError):
        reparse("--since", "yesterday")
