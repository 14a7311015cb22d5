import io
import logging
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from kombu.exceptions import OperationalError

from messages_app import outbox
from messages_app.models import DeliveryStatus, Direction, Kind, Message
from messages_app.outbox import (
    MAX_REFERENCES,
    enqueue_delivery,
    queue_outbound_message,
    thread_headers,
    trim_references,
)
from messages_app.services import post_reply
from messages_app.tasks import deliver_message_task, redrive_outbox_task
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def minutes_ago(minutes: int):
    return timezone.now() - timedelta(minutes=minutes)


def refuse_to_publish(*args, **kwargs):
    """Publishing a task fails the way kombu fails when Redis does not answer."""
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.fixture
def broker_down(monkeypatch):
    monkeypatch.setattr(deliver_message_task, "delay", refuse_to_publish)


class RefusingBackend:
    """An email backend whose server is unreachable."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        raise ConnectionRefusedError(111, "Connection refused")

    def close(self):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


# Threading headers
# ------------------------------------------------------------------------------
def test_thread_headers_point_at_the_requesters_latest_mail_not_at_newer_outbound_mail():
    support_request = SupportRequestFactory()
    InboundMessageFactory(
        request=support_request, rfc_message_id="<first@mail.example>", created_at=minutes_ago(30)
    )
    InboundMessageFactory(
        request=support_request,
        rfc_message_id="<second@mail.example>",
        references="<first@mail.example>",
        created_at=minutes_ago(20),
    )
    OutboundMessageFactory(
        request=support_request, rfc_message_id="<notice@example.com>", created_at=minutes_ago(10)
    )

    assert thread_headers(support_request) == (
        "<second@mail.example>",
        "<first@mail.example> <second@mail.example>",
    )


def test_thread_headers_are_empty_without_inbound_mail_with_a_message_id():
    support_request = SupportRequestFactory()
    InboundMessageFactory(request=support_request, rfc_message_id="")
    OutboundMessageFactory(request=support_request)

    assert thread_headers(support_request) == ("", "")


def test_thread_headers_ignore_other_requests():
    InboundMessageFactory(rfc_message_id="<elsewhere@mail.example>")

    assert thread_headers(SupportRequestFactory()) == ("", "")


def test_long_references_keep_the_root_and_the_newest_ids():
    support_request = SupportRequestFactory()
    chain = " ".join(f"<ref{n}@mail.example>" for n in range(40))
    InboundMessageFactory(
        request=support_request, rfc_message_id="<latest@mail.example>", references=chain
    )

    in_reply_to, references = thread_headers(support_request)

    ids = references.split()
    assert in_reply_to == "<latest@mail.example>"
    assert len(ids) == MAX_REFERENCES
    assert ids[0] == "<ref0@mail.example>"
    assert ids[-2:] == ["<ref39@mail.example>", "<latest@mail.example>"]


def test_trim_references_leaves_short_chains_alone():
    assert trim_references(["<a@x>", "<b@x>"]) == ["<a@x>", "<b@x>"]


def test_thread_headers_drop_anything_that_is_not_a_message_id():
    support_request = SupportRequestFactory()
    InboundMessageFactory(
        request=support_request,
        rfc_message_id="<latest@mail.example>",
        references="<a@mail.example>\r\nBcc: victim@example.org",
    )

    assert thread_headers(support_request) == (
        "<latest@mail.example>",
        "<a@mail.example> <latest@mail.example>",
    )


# Queueing
# ------------------------------------------------------------------------------
def test_queued_message_is_pending_with_a_unique_message_id_on_the_service_domain(settings):
    settings.MESSAGE_ID_DOMAIN = "helpdesk.example.net"
    support_request = SupportRequestFactory()

    messages = [
        queue_outbound_message(
            support_request=support_request, kind=Kind.OPERATOR, subject="Re: x", body="Hi"
        )
        for _ in range(20)
    ]

    ids = {message.rfc_message_id for message in messages}
    assert len(ids) == 20
    assert all(re.fullmatch(r"<[^<>@\s]+@helpdesk\.example\.net>", mid) for mid in ids)
    first = messages[0]
    assert first.direction == Direction.OUTBOUND
    assert first.delivery_status == DeliveryStatus.PENDING
    assert first.author_email == settings.SUPPORT_EMAIL
    assert first.next_attempt_at is not None
    assert first.attempts == 0


def test_queued_message_is_sent_only_after_the_transaction_commits(
    mailoutbox, django_capture_on_commit_callbacks
):
    support_request = SupportRequestFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = queue_outbound_message(
            support_request=support_request, kind=Kind.OPERATOR, subject="Re: x", body="Hi"
        )
    assert mailoutbox == []

    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT


def test_subject_control_characters_are_not_stored():
    message = queue_outbound_message(
        support_request=SupportRequestFactory(),
        kind=Kind.OPERATOR,
        subject="Re: help\r\nBcc: victim@example.org",
        body="Hi",
    )

    assert message.subject == "Re: help Bcc: victim@example.org"


def test_operator_reply_threads_under_the_requesters_mail_and_goes_out(
    mailoutbox, django_capture_on_commit_callbacks
):
    operator = OperatorFactory(name="Alice")
    support_request = SupportRequestFactory(subject="Printer", taken=True, operator=operator)
    InboundMessageFactory(request=support_request, rfc_message_id="<ask@mail.example>")

    with django_capture_on_commit_callbacks(execute=True):
        reply = post_reply(request_id=support_request.pk, operator=operator, body="Try again.")

    assert reply.kind == Kind.OPERATOR
    (email,) = mailoutbox
    assert email.subject == f"Re: Printer [#{support_request.pk}]"
    assert email.extra_headers["In-Reply-To"] == "<ask@mail.example>"
    assert "Auto-Submitted" not in email.extra_headers
    assert email.alternatives == []


# Failures never reach the caller
# ------------------------------------------------------------------------------
def test_broker_outage_at_commit_is_logged_and_the_row_waits_for_the_redrive(
    broker_down, mailoutbox, django_capture_on_commit_callbacks, caplog
):
    support_request = SupportRequestFactory()

    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        message = queue_outbound_message(
            support_request=support_request, kind=Kind.OPERATOR, subject="Re", body="Hi"
        )

    assert "periodic re-drive will send it" in caplog.text
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.PENDING
    assert mailoutbox == []


def test_smtp_failure_in_eager_mode_does_not_break_the_caller(
    settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    operator = OperatorFactory()
    support_request = SupportRequestFactory(taken=True, operator=operator)

    with django_capture_on_commit_callbacks(execute=True):
        reply = post_reply(request_id=support_request.pk, operator=operator, body="Hello")

    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.PENDING
    assert reply.attempts == 1
    assert "ConnectionRefusedError" in reply.last_error


def test_unexpected_error_in_the_task_does_not_break_the_caller(monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("messages_app.tasks.deliver_message", explode)
    message = OutboundMessageFactory()

    enqueue_delivery(message.pk)

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.PENDING


# Re-drive
# ------------------------------------------------------------------------------
def test_redrive_sends_due_pending_messages_only(mailoutbox):
    due = OutboundMessageFactory(next_attempt_at=minutes_ago(1))
    never_scheduled = OutboundMessageFactory(next_attempt_at=None)
    OutboundMessageFactory(next_attempt_at=timezone.now() + timedelta(minutes=5))
    OutboundMessageFactory(delivery_status=DeliveryStatus.SENT, next_attempt_at=None)
    OutboundMessageFactory(delivery_status=DeliveryStatus.FAILED, next_attempt_at=None)
    InboundMessageFactory()

    assert redrive_outbox_task() == 2

    assert {email.extra_headers["Message-ID"] for email in mailoutbox} == {
        due.rfc_message_id,
        never_scheduled.rfc_message_id,
    }
    assert redrive_outbox_task() == 0


def test_redrive_delivers_what_could_not_be_queued_while_the_broker_was_down(
    monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    support_request = SupportRequestFactory()
    with monkeypatch.context() as patch:
        patch.setattr(deliver_message_task, "delay", refuse_to_publish)
        with django_capture_on_commit_callbacks(execute=True):
            message = queue_outbound_message(
                support_request=support_request, kind=Kind.AUTO, subject="Ack", body="Hi"
            )
    assert mailoutbox == []

    redrive_outbox_task()

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert len(mailoutbox) == 1


def test_redrive_stops_quietly_when_the_broker_goes_away(broker_down):
    OutboundMessageFactory.create_batch(3, next_attempt_at=minutes_ago(1))

    assert redrive_outbox_task() == 0
    assert Message.objects.filter(delivery_status=DeliveryStatus.PENDING).count() == 3


def test_redrive_is_scheduled_by_beat():
    from servicedesk.celery import app

    entry = app.conf.beat_schedule["redrive-outbox"]
    assert entry["task"] == redrive_outbox_task.name
    assert 0 < entry["schedule"] <= 60


def test_delivery_task_is_acknowledged_late_one_at_a_time_with_time_limits():
    from servicedesk.celery import app

    assert outbox.deliver_message_task.acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit


def test_redrive_command_sends_due_mail_without_a_broker(mailoutbox):
    OutboundMessageFactory(next_attempt_at=minutes_ago(1))
    out = io.StringIO()

    call_command("redrive_outbox", stdout=out)

    assert out.getvalue().strip() == "Re-drove 1 due message(s)."
    assert len(mailoutbox) == 1


def test_reply_through_the_api_answers_201_when_smtp_is_unreachable_in_eager_mode(
    settings, operator, operator_client, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    support_request = SupportRequestFactory(taken=True, operator=operator)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            f"/api/v1/requests/{support_request.pk}/messages/", {"body": "Hi"}, format="json"
        )

    assert response.status_code == 201
    assert response.json()["delivery_status"] == "pending"
    listed = operator_client.get(f"/api/v1/requests/{support_request.pk}/messages/").json()
    assert listed["results"][-1]["delivery_status"] == "pending"
