"""Outbound mail with real parts: gunicorn, a Celery worker and beat on a private Redis,
an aiosmtpd server on loopback, and PostgreSQL (a fresh database beside DATABASE_URL's)
or a temporary SQLite file.

Mail comes in through the signed webhook; notices and replies must come out of the SMTP
server threaded and marked, once each, also across an SMTP outage and a Redis outage.
"""

import os
import re
import signal
import time
from email.message import EmailMessage

import pytest

from testing.environment import require_binaries
from testing.http import http
from testing.mail import post_webhook
from testing.stacks import SUPPORT, Service, running_service
from testing.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SECRET = "e2e-webhook-secret"
ADMIN = ("e2e-admin", "e2e-password-not-secret")


DELIVERY_RECEIVED = re.compile(
    r"Task messages_app\.tasks\.deliver_message_task\[([0-9a-f-]+)\] received"
)
REDRIVE_DONE = re.compile(r"Task messages_app\.tasks\.redrive_outbox_task\[[0-9a-f-]+\] succeeded")


class Stack(Service):
    """The running service and the helpers the tests drive it with."""

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

    def take(self, request_id: int) -> None:
        assert self.api("POST", f"/api/v1/requests/{request_id}/take/").status == 200

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

    def wait_for_attempt(self, message_id: int, attempt: int | None = None, **kwargs) -> None:
        """Until the worker has logged a failed delivery (attempt `attempt`, or any)."""
        logged = f"Delivery of message {message_id}, attempt" + (
            f" {attempt}," if attempt is not None else ""
        )
        wait_until(lambda: logged in self.worker.log_text(), message=logged, **kwargs)

    def wait_for_redrives(self, runs: int = 2) -> None:
        """Until the worker has finished `runs` more outbox re-drives (beat sends one a
        second): what the re-drives could send a second time, they have had the chance to."""
        before = len(REDRIVE_DONE.findall(self.worker.log_text()))
        wait_until(
            lambda: len(REDRIVE_DONE.findall(self.worker.log_text())) >= before + runs,
            timeout=30,
            message=f"{runs} outbox re-drives",
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_binaries("redis-server")
    with running_service(
        tmp_path_factory.mktemp("outbound-mail"),
        secret=SECRET,
        admin=ADMIN,
        broker=True,
        worker_concurrency=2,
        beat=True,
        env={
            "SUPPORT_NAME": "Service Desk",
            "LOG_LEVEL": "INFO",
            # Fast retries and re-drives so outages resolve within seconds.
            "OUTBOUND_RETRY_BASE_SECONDS": "1",
            "OUTBOUND_RETRY_MAX_SECONDS": "2",
            "OUTBOUND_REDRIVE_SECONDS": "1",
            "AUTO_REPLY_LIMIT_PER_HOUR": "100",
        },
    ) as service:
        yield Stack(**vars(service))


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

    stack.take(request_id)
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

    with stack.smtp.stopped():
        stack.take(request_id)
        notice = stack.messages(request_id)[-1]
        assert notice["kind"] == "auto"
        # At least one attempt failed against the closed port before the server returns.
        stack.wait_for_attempt(notice["id"], timeout=30)
        assert stack.messages(request_id)[-1]["delivery_status"] == "pending"

    stack.wait_for_mail(bob, "Your request is in progress")
    stack.wait_for_delivery_status(request_id, notice["id"], "sent")
    # Re-drives keep running every second: nothing may send it a second time.
    stack.wait_for_redrives()
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


def test_a_delivery_whose_worker_process_dies_is_run_again(stack):
    # The task is acknowledged only when it ends (acks_late) and given back to the broker
    # when its process dies (reject_on_worker_lost): a killed pool process loses no task.
    erin = "erin.e2e@example.com"
    request_id = stack.open_request(erin, "Keyboard")
    log_start = len(stack.worker.log_text())
    stack.smtp.handler.hold_data = True
    try:
        reply = stack.api(
            "POST", f"/api/v1/requests/{request_id}/messages/", {"body": "Try the other port."}
        ).json()
        assert stack.smtp.handler.data_held.wait(timeout=30), "no delivery reached DATA"
        # The pool's processes die with the mail half sent; the worker itself lives on.
        for pid in stack.worker.children():
            os.kill(pid, signal.SIGKILL)

        def redelivered() -> list[str]:
            received = DELIVERY_RECEIVED.findall(stack.worker.log_text()[log_start:])
            return [task for task in set(received) if received.count(task) >= 2]

        (task_id,) = wait_until(redelivered, timeout=60, message="the task delivered again")
        done = f"deliver_message_task[{task_id}] succeeded"
        wait_until(lambda: done in stack.worker.log_text(), timeout=60, message=done)
    finally:
        stack.smtp.handler.hold_data = False
        stack.smtp.handler.release.set()
    # The second run found the claim of the dead one and left the mail to its lease.
    (stored,) = [m for m in stack.messages(request_id) if m["id"] == reply["id"]]
    assert stored["delivery_status"] == "pending"
    assert not [mail for mail in stack.mails_to(erin) if "Try the other port." in str(mail)]


# The old retry budget: 8 attempts (OUTBOUND_MAX_ATTEMPTS), after which mail was failed.
OLD_RETRY_BUDGET = 8


def test_an_smtp_outage_past_the_old_retry_budget_loses_no_mail(stack):
    dave = "dave.e2e@example.com"
    request_id = stack.open_request(dave, "Monitor")

    with stack.smtp.stopped():
        stack.take(request_id)
        replies = [
            stack.api(
                "POST", f"/api/v1/requests/{request_id}/messages/", {"body": f"Reply {n}."}
            ).json()
            for n in range(3)
        ]
        # Retries every 1-2 s: wait until a mail has been tried past the old budget.
        stack.wait_for_attempt(replies[-1]["id"], OLD_RETRY_BUDGET + 2, timeout=120, interval=0.5)
        statuses = [m["delivery_status"] for m in stack.messages(request_id)[2:]]
        assert statuses == ["pending"] * 4
        ready = http("GET", f"{stack.base_url}/readyz")
        assert ready.status == 200
        assert ready.json()["warnings"] == ["smtp"]
        metrics = http("GET", f"{stack.base_url}/metrics").body.decode()
        assert "servicedesk_smtp_up 0.0" in metrics
        assert "servicedesk_outbox_retrying 4.0" in metrics

    for reply in replies:
        stack.wait_for_delivery_status(request_id, reply["id"], "sent")
    stack.wait_for_mail(dave, "Your request is in progress")
    stack.wait_for_redrives()  # re-drives keep running every second: nothing may go out twice
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
        stack.take(request_id)
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
    stack.smtp.wait_for(lambda mail: mail["To"] == senders[0], count=3, timeout=60)
    stack.wait_for_redrives()  # nothing may go out twice
    acks = stack.smtp.find(lambda mail: mail["To"] in senders)
    assert sorted(m["To"] for m in acks if "We received" in m["Subject"]) == senders
    assert len(stack.mails_to(senders[0])) == 3
