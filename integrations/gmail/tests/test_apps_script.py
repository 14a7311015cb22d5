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
MiB = 1024 * 1024
NOT_STORED = {"own_mail_loop.eml", "dsn_bounce.eml", "no_sender.eml"}


@pytest.fixture
def node() -> str:
    path = shutil.which("node")
    if path is None:
        from testing.environment import missing

        missing("needs Node.js (`node`) installed")
    return path


def replay(node: str, script: str, live_server) -> dict:
    """Run a replay script of tests/ against the live service; its JSON report."""
    result = subprocess.run(
        [node, str(TESTS / script)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={
            **os.environ,
            "WEBHOOK_URL": f"{live_server.url}/api/v1/inbound/emails/",
            "WEBHOOK_SECRET": SECRET,
        },
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


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
    report = replay(node, "replay_live.js", live_server)
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


def test_large_mail_never_holds_up_the_mailbox_on_the_live_service(node, live_server, settings):
    """A 40 MB mail, twelve 3 MB mails and a mail refused even as text: the rest arrives
    in order, each once (API.md, "Large mail").

    The service keeps the old 25 MiB cap, as a deployment whose env file still sets
    INBOUND_MAX_BODY_BYTES=26214400 does: the script's 45 MiB batches are refused with
    413 and split, and a mail of 30 MB of text is refused even in the field form. (With
    the 48 MiB cap the service never refuses what UrlFetchApp can post; the Node suite
    covers that cap with its stand-in.)
    """
    settings.INBOUND_WEBHOOK_SECRET = SECRET
    settings.INBOUND_MAX_BODY_BYTES = 25 * MiB
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 26 * MiB
    report = replay(node, "replay_large_live.js", live_server)
    order = report["order"]
    expected = [name for name in order if name != "refused"]
    assert report["sizes"]["big"] > 39_990_000
    assert report["sizes"]["refused"] > 30_000_000
    assert sum(1 for name in order if name.startswith("scan-")) == 12

    # Every other mail stored once, in the mailbox's order.
    stored = list(
        Message.objects.filter(direction=Direction.INBOUND)
        .order_by("pk")
        .values_list("external_id", flat=True)
    )
    assert stored == expected

    # The 40 MB mail came in the field form: its text, and its attachment named as omitted.
    big = Message.objects.get(external_id="big")
    assert big.request.subject == "Scans from Big Scanner"
    assert big.author_email == "big.scanner@example.org"
    assert big.body.startswith("Hello,\nthe scans from Big Scanner are attached.")
    big_items = [i for p in report["posts"] for i in p["items"] if i["id"] == "big"]
    assert {i["form"] for i in big_items} == {"field"}
    attachment = report["bigAttachment"]
    assert big_items[-1]["attachments_omitted"] == [
        {
            "filename": attachment["name"],
            "content_type": "application/pdf",
            "size": attachment["size"],
        }
    ]
    scan = Message.objects.get(external_id="scan-07")
    assert scan.body.startswith("Hello,\nthe scans from Scanner 7 are attached.")

    # Requests: what the service took fits its cap; a refused batch was split; the
    # refused mail (30 MB: under RAW_LIMIT_BYTES) was refused alone in each run, raw and
    # then as text.
    posts = report["posts"]
    assert all(p["status"] in (200, 413) for p in posts), posts
    assert all(p["bytes"] <= 25 * MiB for p in posts if p["status"] == 200)
    refused_alone = [p for p in posts if p["status"] == 413 and len(p["items"]) == 1]
    assert [(p["items"][0]["id"], p["items"][0]["form"]) for p in refused_alone] == [
        ("refused", "raw"),
        ("refused", "field"),
    ] * 3
    assert any(p["status"] == 413 and len(p["items"]) > 1 for p in posts)
    scans_per_post = [
        sum(1 for i in p["items"] if i["id"].startswith("scan-"))
        for p in posts
        if p["status"] == 200
    ]
    assert max(scans_per_post) > 1, "3 MB mails travel several to a request"
    assert sum(scans_per_post) == 12, "no scan is delivered twice: they lie outside the overlap"

    # Two runs stop at the refused mail; the third labels it and goes on; the fourth
    # passes over it.
    runs = report["runs"]
    assert [run["failed"] for run in runs] == [True, True, False, False]
    assert [run["refused"] for run in runs] == [["refused"], ["refused"], ["refused"], []]
    assert runs[2]["gaveUp"] == ["refused"]
    assert report["failed"] == ["thread-refused"]
    assert report["failures"]["refused"]["gaveUp"] is True
    assert "thread-refused" not in report["forwarded"]
    assert set(report["forwarded"]) == {f"thread-{name}" for name in expected}
    assert not SupportRequest.objects.filter(requester_email="wall.of.text@example.org").exists()
