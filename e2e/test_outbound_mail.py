"""Outbound mail with real parts: gunicorn, a Celery worker and beat on a private Redis,
an aiosmtpd server on loopback, and PostgreSQL (a fresh database beside DATABASE_URL's)
or a temporary SQLite file.

Mail comes in through the signed webhook; notices and replies must come out of the SMTP
server threaded and marked, once each, also across an SMTP outage and a Redis outage.
"""

import os
import re
import time
from email.message import EmailMessage

import pytest

from e2e.conftest import require_binaries
from e2e.support import (
    ProcessGroup,
    SMTPSink,
    celery_beat,
    celery_worker,
    fresh_database,
    gunicorn,
    http,
    manage,
    post_webhook,
    redis_server,
    service_env,
    start_celery_worker,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SECRET = "e2e-webhook-secret"
SUPPORT = "support@example.com"
ADMIN = ("e2e-admin", "e2e-password-not-secret")


class Stack:
    """The running service and the helpers the tests drive it with."""

    def __init__(self, *, base_url, smtp, redis, web, worker, token, process_group):
        self.base_url = base_url
        self.smtp = smtp
        self.redis = redis
        self.web = web
        self.worker = worker
        self.token = token
        self.process_group = process_group

    def api(self, method, path, body=None):
        response = http(
            method,
            f"{self.base_url}{path}",
            json_body=body,
            headers={"Authorization": f"Token {self.token}"},
        )
        assert response.status < 500, response.body
        return response

    def inbound(self, **item):
        response = post_webhook(self.base_url, [item], secret=SECRET)
        assert response.status == 200, response.body
        (result,) = response.json()["results"]
        return result

    def open_request(self, address: str, title: str) -> int:
        """A new request from `address` whose acknowledgement has arrived; its id."""
        local = address.partition("@")[0]
        result = self.inbound(
            id=f"gmail-{local}-1",
            user_email=address,
            title=title,
            message_id=f"<{local}@mail.example>",
        )
        assert result["outcome"] == "created", result
        self.wait_for_mail(address, "We received your request")
        return result["request_id"]

    def mails_to(self, address: str) -> list[EmailMessage]:
        return self.smtp.find(lambda mail: mail["To"] == address)

    def wait_for_mail(self, address: str, subject_part: str, *, timeout=45) -> EmailMessage:
        (mail,) = self.smtp.wait_for(
            lambda mail: mail["To"] == address and subject_part in mail["Subject"],
            timeout=timeout,
        )
        return mail

    def messages(self, request_id: int) -> list[dict]:
        response = self.api("GET", f"/api/v1/requests/{request_id}/messages/?page_size=200")
        assert response.status == 200, response.body
        return response.json()["results"]

    def wait_for_delivery_status(self, request_id: int, message_id: int, status: str) -> None:
        def reached():
            found = [m for m in self.messages(request_id) if m["id"] == message_id]
            return found and found[0]["delivery_status"] == status

        wait_until(reached, timeout=30, interval=0.3, message=f"message {message_id} {status}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_binaries("redis-server")
    tmp = tmp_path_factory.mktemp("outbound-mail")
    group = ProcessGroup()
    smtp = SMTPSink().start()
    redis = group.add(redis_server(log_dir=tmp))
    redis.start()
    try:
        with fresh_database(os.environ.get("DATABASE_URL"), tmp_dir=tmp) as database_url:
            env = service_env(
                DJANGO_SETTINGS_MODULE="servicedesk.settings.local",
                DATABASE_URL=database_url,
                REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
                EMAIL_URL=smtp.url,
                EMAIL_TIMEOUT="5",
                SUPPORT_EMAIL=SUPPORT,
                SUPPORT_NAME="Service Desk",
                INBOUND_WEBHOOK_SECRET=SECRET,
                LANGUAGE_CODE="en-us",
                LOG_LEVEL="INFO",
                # Fast retries and re-drives so outages resolve within seconds.
                OUTBOUND_RETRY_BASE_SECONDS="1",
                OUTBOUND_RETRY_MAX_SECONDS="2",
                OUTBOUND_REDRIVE_SECONDS="1",
                AUTO_REPLY_LIMIT_PER_HOUR="100",
                DJANGO_SUPERUSER_USERNAME=ADMIN[0],
                DJANGO_SUPERUSER_PASSWORD=ADMIN[1],
                DJANGO_SUPERUSER_EMAIL="admin@example.com",
            )
            manage("migrate", "--noinput", env=env)
            manage("bootstrap_admin", env=env)
            web = group.add(gunicorn(env=env, log_dir=tmp, workers=2))
            web.start()
            worker = group.add(celery_worker(env=env, log_dir=tmp, concurrency=2))
            start_celery_worker(worker)
            group.add(celery_beat(env=env, log_dir=tmp)).start()
            base_url = f"http://127.0.0.1:{web.port}"
            response = http(
                "POST",
                f"{base_url}/api/v1/auth/token/",
                json_body={"username": ADMIN[0], "password": ADMIN[1]},
            )
            assert response.status == 200, response.body
            yield Stack(
                base_url=base_url,
                smtp=smtp,
                redis=redis,
                web=web,
                worker=worker,
                token=response.json()["token"],
                process_group=group,
            )
            group.stop_all()
    finally:
        group.stop_all()
        smtp.stop()


def token_of(request_id: int) -> str:
    return f"[#{request_id}]"


def assert_notice(mail: EmailMessage, *, request_id: int, in_reply_to: str) -> None:
    assert mail["From"] == f"Service Desk <{SUPPORT}>"
    assert mail["Subject"].count(token_of(request_id)) == 1
    assert re.fullmatch(r"<[^<>@\s]+@example\.com>", mail["Message-ID"])
    assert mail["In-Reply-To"] == in_reply_to
    assert in_reply_to in mail["References"].split()
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail.get_content_type() == "multipart/alternative"
    assert token_of(request_id) in mail.get_body(("plain",)).get_content()
    assert token_of(request_id) in mail.get_body(("html",)).get_content()


def test_request_lifecycle_mails_the_requester_threaded_and_marked(stack):
    jane = "jane.e2e@example.com"
    first = stack.inbound(
        id="gmail-jane-1",
        user_email=f"Jane Doe <{jane}>",
        title="Printer is broken",
        description="It jams on every page.",
        message_id="<jane-1@mail.example>",
    )
    assert first["outcome"] == "created"
    request_id = first["request_id"]

    ack = stack.wait_for_mail(jane, "We received your request")
    assert_notice(ack, request_id=request_id, in_reply_to="<jane-1@mail.example>")
    assert ack["Subject"] == f"We received your request: Printer is broken {token_of(request_id)}"

    assert stack.api("POST", f"/api/v1/requests/{request_id}/take/").status == 200
    taken = stack.wait_for_mail(jane, "Your request is in progress")
    assert_notice(taken, request_id=request_id, in_reply_to="<jane-1@mail.example>")

    response = stack.api(
        "POST", f"/api/v1/requests/{request_id}/messages/", {"body": "Please restart it."}
    )
    assert response.status == 201, response.body
    assert response.json()["delivery_status"] == "pending"
    reply = stack.wait_for_mail(jane, "Re: Printer is broken")
    assert reply["Subject"] == f"Re: Printer is broken {token_of(request_id)}"
    assert reply["In-Reply-To"] == "<jane-1@mail.example>"
    assert reply["Auto-Submitted"] is None
    assert reply["X-Auto-Response-Suppress"] is None
    assert "Please restart it." in reply.get_body(("plain",)).get_content()
    stack.wait_for_delivery_status(request_id, response.json()["id"], "sent")

    # The requester answers the "taken" notice: threaded by its Message-ID alone.
    answer = stack.inbound(
        id="gmail-jane-2",
        user_email=jane,
        title="Still broken",
        description="Restarted, still jams.",
        message_id="<jane-2@mail.example>",
        in_reply_to=taken["Message-ID"],
        references=f"<jane-1@mail.example> {taken['Message-ID']}",
    )
    assert answer["outcome"] == "appended"
    assert answer["request_id"] == request_id

    assert stack.api("POST", f"/api/v1/requests/{request_id}/close/").status == 200
    closed = stack.wait_for_mail(jane, "Your request is closed")
    assert_notice(closed, request_id=request_id, in_reply_to="<jane-2@mail.example>")
    assert closed["References"].split() == [
        "<jane-1@mail.example>",
        taken["Message-ID"],
        "<jane-2@mail.example>",
    ]

    mails = stack.mails_to(jane)
    assert len(mails) == 4
    assert len({mail["Message-ID"] for mail in mails}) == 4
    expected = [None, "sent", "sent", "sent", None, "sent"]
    wait_until(
        lambda: [m["delivery_status"] for m in stack.messages(request_id)] == expected,
        timeout=30,
        message="every outbound message recorded as sent",
    )


def test_mail_queued_while_smtp_is_down_arrives_exactly_once(stack):
    bob = "bob.e2e@example.com"
    request_id = stack.open_request(bob, "VPN")

    stack.smtp.stop()
    try:
        assert stack.api("POST", f"/api/v1/requests/{request_id}/take/").status == 200
        notice = stack.messages(request_id)[-1]
        assert notice["kind"] == "auto"
        # At least one attempt failed against the closed port before the server returns.
        wait_until(
            lambda: f"Delivery of message {notice['id']}, attempt" in stack.worker.log_text(),
            timeout=30,
            message="a failed delivery attempt",
        )
        assert stack.messages(request_id)[-1]["delivery_status"] == "pending"
    finally:
        stack.smtp.start()

    stack.wait_for_mail(bob, "Your request is in progress")
    stack.wait_for_delivery_status(request_id, notice["id"], "sent")
    # Re-drives keep running every second: nothing may send it a second time.
    time.sleep(3)
    taken = [mail for mail in stack.mails_to(bob) if "in progress" in mail["Subject"]]
    assert len(taken) == 1


def test_notice_committed_while_redis_is_down_arrives_through_the_redrive(stack):
    carol = "carol.e2e@example.com"
    request_id = stack.open_request(carol, "Laptop")

    stack.redis.stop()
    try:
        # The status change commits; queueing its notice fails and is only logged.
        response = stack.api("POST", f"/api/v1/requests/{request_id}/close/")
        assert response.status == 200, response.body
        assert response.json()["status"] == "closed"
        notice = stack.messages(request_id)[-1]
        assert notice["delivery_status"] == "pending"
        assert f"Could not queue delivery of message {notice['id']}" in stack.web.log_text()
    finally:
        stack.redis.start()

    closed = stack.wait_for_mail(carol, "Your request is closed", timeout=90)
    assert_notice(closed, request_id=request_id, in_reply_to="<carol.e2e@mail.example>")
    stack.wait_for_delivery_status(request_id, notice["id"], "sent")
    assert len(stack.mails_to(carol)) == 2


# The old retry budget: 8 attempts (OUTBOUND_MAX_ATTEMPTS), after which mail was failed.
OLD_RETRY_BUDGET = 8


def test_an_smtp_outage_past_the_old_retry_budget_loses_no_mail(stack):
    dave = "dave.e2e@example.com"
    request_id = stack.open_request(dave, "Monitor")

    stack.smtp.stop()
    try:
        assert stack.api("POST", f"/api/v1/requests/{request_id}/take/").status == 200
        replies = [
            stack.api(
                "POST", f"/api/v1/requests/{request_id}/messages/", {"body": f"Reply {n}."}
            ).json()
            for n in range(3)
        ]
        # Retries every 1-2 s: wait until a mail has been tried past the old budget.
        last_attempt = f"Delivery of message {replies[-1]['id']}, attempt {OLD_RETRY_BUDGET + 2},"
        wait_until(
            lambda: last_attempt in stack.worker.log_text(),
            timeout=120,
            interval=0.5,
            message="attempts past the old retry budget",
        )
        statuses = [m["delivery_status"] for m in stack.messages(request_id)[2:]]
        assert statuses == ["pending"] * 4
        ready = http("GET", f"{stack.base_url}/readyz")
        assert ready.status == 200
        assert ready.json()["warnings"] == ["smtp"]
        metrics = http("GET", f"{stack.base_url}/metrics").body.decode()
        assert "servicedesk_smtp_up 0.0" in metrics
        assert "servicedesk_outbox_retrying 4.0" in metrics
    finally:
        stack.smtp.start()

    for reply in replies:
        stack.wait_for_delivery_status(request_id, reply["id"], "sent")
    stack.wait_for_mail(dave, "Your request is in progress")
    time.sleep(3)  # re-drives keep running every second: nothing may go out twice
    bodies = [mail.get_body(("plain",)).get_content() for mail in stack.mails_to(dave)]
    for n in range(3):
        assert sum(f"Reply {n}." in body for body in bodies) == 1
    assert len(stack.mails_to(dave)) == 5  # acknowledgement, taken, three replies
    assert (
        "servicedesk_outbound_given_up 0.0"
        in http("GET", f"{stack.base_url}/metrics").body.decode()
    )


def test_a_batch_opening_100_requests_answers_in_seconds_while_redis_is_down(stack):
    senders = [f"burst{n:03}.e2e@example.com" for n in range(100)]
    items = [
        {
            "id": f"gmail-burst-{n}",
            "user_email": sender,
            "title": f"Burst {n}",
            "message_id": f"<burst-{n}@mail.example>",
        }
        for n, sender in enumerate(senders)
    ]

    stack.redis.stop()
    try:
        started = time.monotonic()
        response = post_webhook(stack.base_url, items, secret=SECRET, timeout=120)
        elapsed = time.monotonic() - started
        assert response.status == 200, response.body
        assert response.json()["summary"]["created"] == 100
        # Generous: with one publish per acknowledgement this took minutes.
        assert elapsed < 15, f"the batch took {elapsed:.1f} s"

        request_id = response.json()["results"][0]["request_id"]
        started = time.monotonic()
        assert stack.api("POST", f"/api/v1/requests/{request_id}/take/").status == 200
        assert stack.api("POST", f"/api/v1/requests/{request_id}/close/").status == 200
        assert time.monotonic() - started < 15
    finally:
        stack.redis.start()

    # Every acknowledgement (and the taken and closed notices) arrives through the re-drive.
    stack.smtp.wait_for(
        lambda mail: mail["To"] in senders and "We received your request" in mail["Subject"],
        count=100,
        timeout=180,
    )
    time.sleep(3)
    acks = stack.smtp.find(lambda mail: mail["To"] in senders)
    assert sorted(m["To"] for m in acks if "We received" in m["Subject"]) == senders
    assert len(stack.mails_to(senders[0])) == 3
