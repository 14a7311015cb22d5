import io
import logging
import re
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from messages_app.outbound import outbox
from messages_app.outbound.compose import post_reply
from messages_app.outbound.outbox import (
    MAX_REFERENCES,
    OutboundMail,
    enqueue_delivery,
    queue_outbound_message,
    queue_outbound_messages,
    thread_headers,
    thread_headers_after,
    trim_references,
)
from messages_app.tasks import deliver_message_task, redrive_outbox_task
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.models import Party, SupportRequest
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


@pytest.fixture
def published(monkeypatch):
    """The ids handed to Celery, in order, without running the task."""
    ids = []
    monkeypatch.setattr(deliver_message_task, "delay", ids.append)
    return ids


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


def test_thread_headers_after_a_mail_need_no_query(django_assert_num_queries):
    message = Message(rfc_message_id="<latest@mail.example>", references="<root@mail.example>")

    with django_assert_num_queries(0):
        headers = thread_headers_after(message)

    assert headers == ("<latest@mail.example>", "<root@mail.example> <latest@mail.example>")


def test_thread_headers_after_a_mail_without_a_message_id_are_empty():
    assert thread_headers_after(Message(rfc_message_id="", references="<a@x>")) == ("", "")


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


# Queueing in bulk
# ------------------------------------------------------------------------------
def test_bulk_queue_stores_one_pending_row_per_mail_as_given(settings):
    first, second = SupportRequestFactory.create_batch(2)
    mails = [
        OutboundMail(
            first,
            subject="Ack\r\nBcc: victim@example.org " + "x" * 600,
            body="Hello\n",
            html="<p>Hello</p>",
            in_reply_to="<q1@mail.example>",
            references="<root@mail.example> <q1@mail.example>",
        ),
        OutboundMail(second, subject="Ack 2", body="Hi\n"),
    ]

    messages = queue_outbound_messages(mails=mails, kind=Kind.AUTO)

    assert [m.request_id for m in messages] == [first.pk, second.pk]
    stored = Message.objects.get(pk=messages[0].pk)
    assert stored.direction == Direction.OUTBOUND
    assert stored.kind == Kind.AUTO
    assert stored.author_email == settings.SUPPORT_EMAIL
    assert stored.author_name == settings.SUPPORT_NAME
    assert stored.operator is None
    assert stored.subject.startswith("Ack Bcc: victim@example.org xxx")
    assert len(stored.subject) == 500
    assert (stored.body, stored.reply, stored.html) == ("Hello\n", "Hello\n", "<p>Hello</p>")
    assert stored.in_reply_to == "<q1@mail.example>"
    assert stored.references == "<root@mail.example> <q1@mail.example>"
    assert stored.delivery_status == DeliveryStatus.PENDING
    assert stored.date == stored.created_at == stored.next_attempt_at
    assert stored.attempts == 0
    other = Message.objects.get(pk=messages[1].pk)
    assert (other.in_reply_to, other.references, other.html) == ("", "", "")
    assert len({m.rfc_message_id for m in messages}) == 2
    assert all(m.rfc_message_id.endswith(f"@{settings.MESSAGE_ID_DOMAIN}>") for m in messages)


def test_bulk_queue_counts_each_automatic_mail_without_changing_who_wrote_last():
    requests = SupportRequestFactory.create_batch(3, message_count=2)
    before = timezone.now()

    messages = queue_outbound_messages(
        mails=[OutboundMail(r, subject="Ack", body="Hi") for r in requests], kind=Kind.AUTO
    )

    for support_request, message in zip(requests, messages, strict=True):
        last_reply_by = support_request.last_reply_by
        support_request.refresh_from_db()
        assert support_request.message_count == 3
        assert support_request.last_message_at == message.created_at
        assert support_request.updated_at >= before
        assert support_request.last_reply_by == last_reply_by


def test_bulk_queue_of_operator_mail_marks_the_operator_as_last_to_write():
    operator = OperatorFactory(name="Alice")
    support_request = SupportRequestFactory(taken=True, operator=operator)

    [message] = queue_outbound_messages(
        mails=[OutboundMail(support_request, subject="Re", body="Hi")],
        kind=Kind.OPERATOR,
        operator=operator,
    )

    support_request.refresh_from_db()
    assert support_request.last_reply_by == Party.OPERATOR
    assert (message.operator, message.author_name) == (operator, "Alice")


def test_bulk_queue_costs_one_insert_and_one_update_whatever_the_number(
    django_assert_num_queries,
):
    requests = SupportRequestFactory.create_batch(20)

    with django_assert_num_queries(2):
        queue_outbound_messages(
            mails=[OutboundMail(r, subject="Ack", body="Hi") for r in requests], kind=Kind.AUTO
        )

    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 20


def test_bulk_queue_refuses_two_mails_to_one_request():
    support_request = SupportRequestFactory()
    mail = OutboundMail(support_request, subject="Ack", body="Hi")

    with pytest.raises(ValueError, match="one mail per request"):
        queue_outbound_messages(mails=[mail, mail], kind=Kind.AUTO)

    assert not Message.objects.exists()


def test_bulk_queue_of_nothing_does_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert queue_outbound_messages(mails=[], kind=Kind.AUTO) == []


def test_bulk_queue_hands_each_message_to_celery_once_after_commit(
    published, django_capture_on_commit_callbacks
):
    requests = SupportRequestFactory.create_batch(3)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        messages = queue_outbound_messages(
            mails=[OutboundMail(r, subject="Ack", body="Hi") for r in requests], kind=Kind.AUTO
        )
    assert published == []

    for callback in callbacks:
        callback()
    assert published == [message.pk for message in messages]


def test_bulk_queued_mail_goes_out_after_commit_in_eager_mode(
    mailoutbox, django_capture_on_commit_callbacks
):
    requests = SupportRequestFactory.create_batch(3)

    with django_capture_on_commit_callbacks(execute=True):
        messages = queue_outbound_messages(
            mails=[OutboundMail(r, subject="Ack", body="Hi") for r in requests], kind=Kind.AUTO
        )

    assert sorted(email.to[0] for email in mailoutbox) == sorted(
        r.requester_email for r in requests
    )
    assert all(email.extra_headers["Auto-Submitted"] == "auto-replied" for email in mailoutbox)
    assert set(
        Message.objects.filter(pk__in=[m.pk for m in messages]).values_list(
            "delivery_status", flat=True
        )
    ) == {DeliveryStatus.SENT}


def test_bulk_queue_rolled_back_stores_and_enqueues_nothing(
    published, django_capture_on_commit_callbacks
):
    requests = SupportRequestFactory.create_batch(2, message_count=1)

    def queue_then_fail():
        with transaction.atomic():
            queue_outbound_messages(
                mails=[OutboundMail(r, subject="Ack", body="Hi") for r in requests],
                kind=Kind.AUTO,
            )
            raise RuntimeError("the caller failed after queueing")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        queue_then_fail()

    assert callbacks == []
    assert published == []
    assert not Message.objects.exists()
    assert {r.message_count for r in SupportRequest.objects.all()} == {1}


def test_a_refused_publish_leaves_the_rest_of_the_batch_to_the_redrive_at_once(
    monkeypatch, mailoutbox, django_capture_on_commit_callbacks, caplog
):
    requests = SupportRequestFactory.create_batch(3)
    calls = []

    def refuse(message_id):
        calls.append(message_id)
        refuse_to_publish()

    monkeypatch.setattr(deliver_message_task, "delay", refuse)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        messages = queue_outbound_messages(
            mails=[OutboundMail(r, subject="Ack", body="Hi") for r in requests], kind=Kind.AUTO
        )
        # The next change (a take, a close) does not try the broker again for a while.
        queue_outbound_message(
            support_request=SupportRequestFactory(), kind=Kind.AUTO, subject="s", body="b"
        )

    assert calls == [messages[0].pk]
    assert mailoutbox == []
    assert f"Could not queue delivery of message {messages[0].pk};" in caplog.text
    assert "Left 2 more message(s) of the batch to the periodic re-drive" in caplog.text
    monkeypatch.undo()
    assert redrive_outbox_task() == 4
    assert len(mailoutbox) == 4


def test_publishing_resumes_after_the_pause(monkeypatch, published):
    monkeypatch.setattr(outbox, "_broker_paused_until", time.monotonic() - 1)
    message = OutboundMessageFactory()

    outbox.enqueue_deliveries([message.pk])

    assert published == [message.pk]


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
