"""The operator console in Debian's Chromium, against gunicorn with production settings.

Mail arrives through the signed webhook; the console's own pages (static files served by
WhiteNoise, no CDN) are then driven the way an operator works: log in, find the request,
take it, reply with a file (which must reach the SMTP server), add a note (which must
not), hand it to a colleague, who closes it with a keyboard shortcut while the first
operator's unsent reply stays on screen. Screenshots of the queue and a conversation are
kept under var/artifacts/ and every page is checked with axe-core.
"""

import os
import uuid

import pytest

from e2e.conftest import require_binaries
from e2e.support import (
    CHROMIUM,
    REPO_ROOT,
    ProcessGroup,
    SMTPSink,
    fresh_database,
    gunicorn,
    launch_chromium,
    manage,
    post_webhook,
    service_env,
)

pytestmark = pytest.mark.e2e

SECRET = "e2e-desk-webhook-secret"
SUPPORT = "support@example.com"
PASSWORD = "desk-e2e-password-not-secret"
ARTIFACTS = REPO_ROOT / "var" / "artifacts"
# Alice works the queue; Bob is the colleague she hands a request to.
PEOPLE_SCRIPT = f"""
from django.contrib.auth import get_user_model
from operators_app.models import Operator
User = get_user_model()
for username, name in (("alice", "Alice Ops"), ("bob", "Bob Ops")):
    user = User.objects.create_user(username, f"{{username}}@example.com", {PASSWORD!r})
    Operator.objects.create(user=user, name=name)
"""


class Desk:
    def __init__(self, *, base_url, smtp, process_group):
        self.base_url = base_url
        self.smtp = smtp
        self.process_group = process_group

    def inbound(self, *, sender: str, subject: str, body: str) -> int:
        local = sender.partition("@")[0]
        response = post_webhook(
            self.base_url,
            [
                {
                    "id": f"gmail-{local}-{uuid.uuid4().hex[:6]}",
                    "user_email": sender,
                    "title": subject,
                    "description": body,
                    "message_id": f"<{uuid.uuid4().hex}@mail.example>",
                }
            ],
            secret=SECRET,
        )
        assert response.status == 200, response.body
        (result,) = response.json()["results"]
        assert result["outcome"] == "created", result
        return result["request_id"]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    require_binaries(CHROMIUM)
    tmp = tmp_path_factory.mktemp("desk")
    group = ProcessGroup()
    smtp = SMTPSink().start()
    try:
        with fresh_database(os.environ.get("DATABASE_URL"), tmp_dir=tmp) as database_url:
            env = service_env(
                DJANGO_SETTINGS_MODULE="servicedesk.settings.production",
                SECRET_KEY="e2e-desk-" + uuid.uuid4().hex * 2,
                ALLOWED_HOSTS="127.0.0.1",
                SECURE_SSL_REDIRECT="false",
                SESSION_COOKIE_SECURE="false",
                CSRF_COOKIE_SECURE="false",
                SECURE_HSTS_SECONDS="0",
                DATABASE_URL=database_url,
                # No broker: tasks (delivery) run in the web process right after commit.
                REDIS_URL="",
                EMAIL_URL=smtp.url,
                EMAIL_TIMEOUT="5",
                SUPPORT_EMAIL=SUPPORT,
                INBOUND_WEBHOOK_SECRET=SECRET,
                STATIC_ROOT=str(tmp / "static"),
                ATTACHMENTS_ROOT=str(tmp / "attachments"),
                AUTO_REPLY_LIMIT_PER_HOUR="100",
                LOG_FORMAT="text",
            )
            manage("migrate", "--noinput", env=env)
            manage("collectstatic", "--noinput", env=env)
            manage("shell", "-c", PEOPLE_SCRIPT, env=env)
            web = group.add(gunicorn(env=env, log_dir=tmp, workers=2))
            web.start()
            yield Desk(base_url=f"http://127.0.0.1:{web.port}", smtp=smtp, process_group=group)
            group.stop_all()
    finally:
        group.stop_all()
        smtp.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def _log_in(page, base_url: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/desk/")
    expect(page).to_have_url(f"{base_url}/desk/login/?next=/desk/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    expect(page.locator("h1")).to_have_text("Queue")


def _assert_accessible(page, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], [node["target"] for node in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{name}: {serious}"


def test_an_operator_does_the_whole_job_in_the_console(desk, chromium, tmp_path):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requester = f"printer.{uuid.uuid4().hex[:6]}@example.org"
    subject = f"Printer jams on every page {uuid.uuid4().hex[:4]}"
    request_id = desk.inbound(sender=requester, subject=subject, body="It jams. Help!")
    for n in range(3):
        desk.inbound(
            sender=f"other{n}.{uuid.uuid4().hex[:4]}@example.org",
            subject=f"VPN drops every hour ({n})",
            body="The VPN disconnects.",
        )
    csp_errors = []

    alice_context = chromium.new_context(viewport={"width": 1280, "height": 900})
    bob_context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        alice = alice_context.new_page()
        alice.on(
            "console",
            lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        _log_in(alice, desk.base_url, "alice")

        # The request that arrived through the webhook waits in "Unassigned".
        alice.click("nav.tabs >> text=Unassigned")
        row = alice.locator(f"tr[data-request-id='{request_id}']")
        expect(row).to_contain_text(subject)
        expect(row).to_contain_text("Requester waits")
        alice.screenshot(path=ARTIFACTS / "desk-queue.png", full_page=True)
        _assert_accessible(alice, "queue")

        row.locator("a").click()
        expect(alice.locator("#conversation h1")).to_contain_text(subject)
        expect(alice.locator(".msg-requester")).to_contain_text("It jams. Help!")

        # A mail's HTML version opens on demand in a sandboxed frame.
        alice.locator(".msg-auto .html-slot button").first.click()
        frame = alice.locator("iframe.mail-html").first
        expect(frame).to_have_attribute("sandbox", "")
        expect(alice.frame_locator("iframe.mail-html").first.locator("body")).to_contain_text(
            "We have received your request"
        )

        # Take with the keyboard.
        alice.keyboard.press("t")
        expect(alice.locator(".notice")).to_have_text("You took this request.")
        expect(alice.locator(".conv-head .status")).to_have_text("In progress")

        # Reply with a file.
        attachment = tmp_path / "diagnostics.bin"
        attachment.write_bytes(bytes(range(256)) * 4)
        alice.keyboard.press("r")
        alice.keyboard.type("Please try these steps.")
        alice.set_input_files("#reply-files", str(attachment))
        alice.click("#reply-form button[type=submit]")
        expect(alice.locator(".notice")).to_have_text("Your reply is on its way.")
        expect(alice.locator("#reply-body")).to_have_value("")
        (mail,) = desk.smtp.wait_for(
            lambda m: m["To"] == requester and "Please try these steps." in str(m), timeout=30
        )
        files = {p.get_filename(): p.get_payload(decode=True) for p in mail.iter_attachments()}
        assert files == {"diagnostics.bin": bytes(range(256)) * 4}
        expect(alice.locator(".msg-operator").last).to_contain_text("Please try these steps.")

        # An internal note: shown apart, never mailed.
        alice.fill("#note-body", "Called the requester, printer model X200.")
        alice.click("#note-form button[type=submit]")
        expect(alice.locator(".msg-note")).to_contain_text("printer model X200")
        assert not desk.smtp.find(lambda m: "X200" in str(m))

        # Hand it to Bob.
        alice.select_option("#assign-to", label="Bob Ops")
        alice.click("[data-action=assign]")
        expect(alice.locator(".notice")).to_have_text("The request is handed over.")
        expect(alice.locator(".conv-head .meta")).to_contain_text("Bob Ops")
        expect(alice.locator(".events")).to_contain_text("Assigned")

        # Alice starts another reply; meanwhile Bob closes the request with shortcuts.
        alice.fill("#reply-body", "One more thing I wanted to add")
        bob = bob_context.new_page()
        _log_in(bob, desk.base_url, "bob")
        bob.keyboard.press("?")
        expect(bob.locator("#help")).to_be_visible()
        expect(bob.locator("#help")).to_contain_text("Next request")
        bob.keyboard.press("Escape")
        expect(bob.locator("#help")).to_be_hidden()
        bob.keyboard.press("j")
        expect(bob.locator(f"tr[data-request-id='{request_id}']")).to_have_class("selected")
        bob.keyboard.press("Enter")
        expect(bob.locator("#conversation h1")).to_contain_text(subject)
        bob.keyboard.press("c")
        expect(bob.locator(".notice")).to_have_text("The request is closed.")

        # Alice's send fails in words, and what she typed is still there.
        alice.click("#reply-form button[type=submit]")
        expect(alice.locator("#reply-form .error")).to_contain_text("This request is closed")
        expect(alice.locator("#reply-body")).to_have_value("One more thing I wanted to add")
        alice.screenshot(path=ARTIFACTS / "desk-conversation.png", full_page=True)
        _assert_accessible(alice, "conversation")

        # Phone width.
        alice.set_viewport_size({"width": 390, "height": 844})
        alice.goto(f"{desk.base_url}/desk/?tab=open")
        alice.screenshot(path=ARTIFACTS / "desk-queue-phone.png", full_page=True)
        _assert_accessible(alice, "queue at phone width")
    finally:
        alice_context.close()
        bob_context.close()

    assert not csp_errors, csp_errors
