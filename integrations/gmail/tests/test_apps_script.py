"""The Gmail Apps Script, run for real under Node against the live service on loopback."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from messages_app.models import Direction, Kind, Message
from requests_app.models import SupportRequest

pytestmark = pytest.mark.e2e

TESTS = Path(__file__).parent
SECRET = "apps-script-e2e-secret"
NOT_STORED = {"own_mail_loop.eml", "dsn_bounce.eml", "no_sender.eml"}


@pytest.fixture
def node() -> str:
    path = shutil.which("node")
    if path is None:
        from conftest import missing

        missing("needs Node.js (`node`) installed")
    return path


def test_node_suite_of_the_script_passes(node):
    result = subprocess.run(
        [node, "--test", str(TESTS / "forward.test.js")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "# fail 0" in result.stdout


def test_script_forwards_the_fixture_mailbox_to_the_live_service_exactly_once(
    node, live_server, settings
):
    settings.INBOUND_WEBHOOK_SECRET = SECRET
    result = subprocess.run(
        [node, str(TESTS / "replay_live.js")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={
            **os.environ,
            "WEBHOOK_URL": f"{live_server.url}/api/v1/inbound/emails/",
            "WEBHOOK_SECRET": SECRET,
        },
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    mailbox = report["messages"]
    fixtures = {m["fixture"]: m["id"] for m in mailbox}

    # First run: everything delivered in one signed batch; three items not stored.
    first = report["first"]
    assert first["failed"] is False
    assert first["delivered"] == len(mailbox)
    assert first["batches"] == 1
    assert first["outcomes"]["ignored"] == 2
    assert first["outcomes"]["rejected"] == 1
    assert first["outcomes"]["created"] + first["outcomes"]["appended"] == len(mailbox) - 3
    assert report["watermarkAfterFirst"] == str(max(m["date"] for m in mailbox) // 1000)

    # The rows: each stored fixture once, under its Gmail id.
    stored = dict(
        Message.objects.filter(direction=Direction.INBOUND).values_list("external_id", "pk")
    )
    assert set(stored) == {fixtures[name] for name in fixtures if name not in NOT_STORED}
    reply = Message.objects.get(external_id=fixtures["gmail_reply_ru.eml"])
    assert reply.author_email == "ivan.petrov@gmail.com"
    assert reply.author_name == "Иван Петров"
    assert reply.reply.startswith("Добрый день!")
    assert "Service Desk <support@example.com>:" in reply.body
    jane = SupportRequest.objects.get(requester_email="jane.doe@gmail.com")
    assert jane.messages.filter(direction=Direction.INBOUND).count() == 2
    html_only = Message.objects.get(external_id=fixtures["html_only.eml"])
    assert "<script" not in html_only.html
    assert html_only.body.startswith("Hello support,")
    assert not SupportRequest.objects.filter(
        requester_email__in=["support@example.com", "mailer-daemon@mx.example.net"]
    ).exists()
    for support_request in SupportRequest.objects.all():
        assert support_request.message_count == support_request.messages.count()
    automatic_only = {"news@lists.example.org", "no-reply@portal.contoso.com"}
    acknowledged = set(
        Message.objects.filter(direction=Direction.OUTBOUND, kind=Kind.AUTO).values_list(
            "request__requester_email", flat=True
        )
    )
    assert acknowledged.isdisjoint(automatic_only)
    assert "ivan.petrov@gmail.com" in acknowledged

    # Second run: the overlap window sends it all again; nothing new is stored.
    second = report["second"]
    assert second["failed"] is False
    assert second["outcomes"] == {
        "duplicate": len(mailbox) - 3,
        "ignored": 2,
        "rejected": 1,
    }
    assert (
        dict(Message.objects.filter(direction=Direction.INBOUND).values_list("external_id", "pk"))
        == stored
    )
    assert report["watermark"] == report["watermarkAfterFirst"]
    assert all(r["status"] == 200 for r in report["requests"])
    assert report["labelled"] == sorted({m["threadId"] for m in mailbox})
