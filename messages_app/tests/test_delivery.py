import smtplib
import threading
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import OperationalError, connection
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from messages_app.models import DeliveryStatus, Kind
from messages_app.outbound import delivery
from messages_app.outbound.delivery import (
    build_email,
    claim_message,
    deliver_message,
    is_permanent_failure,
    retry_delay,
)
from messages_app.tasks import deliver_message_task, redrive_outbox_task
from messages_app.tests.factories import OutboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from testing.processes import free_port

pytestmark = pytest.mark.django_db


def raw_headers(email) -> bytes:
    """The header block of a built mail exactly as it would go over the wire."""
    return email.message().as_bytes(linesep="\r\n").split(b"\r\n\r\n", 1)[0]


def parsed(email):
    return message_from_bytes(email.message().as_bytes(), policy=default_policy)


class GatedBackend(LocmemBackend):
    """locmem that holds every send until the test opens `gate`: whatever else the test runs
    meanwhile overlaps a delivery in the middle of sending."""

    gate = threading.Event()
    held: list[bool] = []  # one entry per send: whether the gate opened before the deadline

    def send_messages(self, messages):
        self.held.append(self.gate.wait(timeout=10))
        return super().send_messages(messages)


# The mail itself
# ------------------------------------------------------------------------------
def test_mail_is_from_the_support_address_to_the_requester_with_its_stored_message_id(settings):
    settings.SUPPORT_NAME = "Acme, Support"
    message = OutboundMessageFactory(
        request__requester_email="jane@example.com", rfc_message_id="<abc.1@example.com>"
    )

    email = parsed(build_email(message))

    assert email["From"] == '"Acme, Support" <support@example.com>'
    assert email["To"] == "jane@example.com"
    assert email["Message-ID"] == "<abc.1@example.com>"


def test_operator_reply_carries_threading_headers_and_no_auto_markers():
    message = OutboundMessageFactory(
        kind=Kind.OPERATOR,
        in_reply_to="<latest@mail.example.com>",
        references="<root@mail.example.com> <latest@mail.example.com>",
    )

    email = parsed(build_email(message))

    assert email["In-Reply-To"] == "<latest@mail.example.com>"
    assert email["References"] == "<root@mail.example.com> <latest@mail.example.com>"
    assert email["Auto-Submitted"] is None
    assert email["X-Auto-Response-Suppress"] is None


def test_notice_is_marked_auto_submitted():
    email = parsed(build_email(OutboundMessageFactory(kind=Kind.AUTO)))

    assert email["Auto-Submitted"] == "auto-replied"
    assert email["X-Auto-Response-Suppress"] == "All"


def test_plain_text_always_and_html_alternative_only_when_stored():
    plain = parsed(build_email(OutboundMessageFactory(body="Just text", html="")))
    both = parsed(build_email(OutboundMessageFactory(body="Text", html="<p>Rich</p>")))

    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().strip() == "Just text"
    assert both.get_content_type() == "multipart/alternative"
    assert both.get_body(("plain",)).get_content().strip() == "Text"
    assert both.get_body(("html",)).get_content().strip() == "<p>Rich</p>"


def test_non_ascii_subject_and_body_are_encoded():
    message = OutboundMessageFactory(subject="Принтер не печатает [#5]", body="Здравствуйте")

    email = parsed(build_email(message))

    assert email["Subject"] == "Принтер не печатает [#5]"
    assert email.get_content().strip() == "Здравствуйте"


@pytest.mark.parametrize(
    "field",
    ["subject", "in_reply_to", "references"],
)
def test_cr_lf_in_stored_values_never_reaches_a_header(field):
    evil = "<x@example.com>\r\nBcc: victim@example.org\r\nX-Injected: yes"
    message = OutboundMessageFactory(**{field: evil})

    lines = raw_headers(build_email(message)).lower().split(b"\r\n")

    assert not [line for line in lines if line.startswith((b"bcc:", b"x-injected:"))]
    assert parsed(build_email(message))["Bcc"] is None


def test_cr_lf_in_subject_is_folded_into_one_line():
    message = OutboundMessageFactory(subject="Help\r\nBcc: victim@example.org")

    email = parsed(build_email(message))

    assert email["Subject"] == "Help Bcc: victim@example.org"
    assert email["Bcc"] is None


def test_unsafe_support_name_cannot_inject_headers(settings):
    settings.SUPPORT_NAME = "Desk\r\nBcc: victim@example.org"

    email = parsed(build_email(OutboundMessageFactory()))

    assert email["Bcc"] is None
    assert email["From"].addresses[0].addr_spec == "support@example.com"


def test_references_keep_only_message_ids():
    message = OutboundMessageFactory(
        references="<a@x.example> junk\r\n\t<b@x.example> Bcc: evil@example.org", in_reply_to=""
    )

    email = parsed(build_email(message))

    assert email["References"] == "<a@x.example> <b@x.example>"
    assert email["In-Reply-To"] is None


# Sending and recording
# ------------------------------------------------------------------------------
def test_delivery_sends_once_and_records_sent(mailoutbox):
    message = OutboundMessageFactory(next_attempt_at=timezone.now())

    assert deliver_message(message_id=message.pk) == DeliveryStatus.SENT

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.sent_at is not None
    assert message.attempts == 1
    assert message.next_attempt_at is None
    assert message.last_error == ""
    assert len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Message-ID"] == message.rfc_message_id


def test_running_the_task_twice_sends_one_mail(mailoutbox):
    message = OutboundMessageFactory()

    deliver_message_task.delay(message.pk)
    deliver_message_task.delay(message.pk)
    deliver_message_task(message.pk)

    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.attempts == 1


def test_a_message_waiting_for_its_retry_is_not_sent_early(mailoutbox):
    message = OutboundMessageFactory(next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert deliver_message(message_id=message.pk) is None
    assert mailoutbox == []


@pytest.mark.parametrize("status", [DeliveryStatus.SENT, DeliveryStatus.FAILED])
def test_sent_and_failed_messages_are_never_sent_by_the_task(mailoutbox, status):
    message = OutboundMessageFactory(delivery_status=status)

    assert deliver_message(message_id=message.pk) is None
    assert mailoutbox == []


def test_unknown_message_id_is_a_no_op(mailoutbox):
    assert deliver_message(message_id=987654) is None


def test_a_claimed_message_is_left_alone_while_its_task_may_live_then_sent_again(
    mailoutbox, settings
):
    with freeze_time(timezone.now()) as clock:
        message = OutboundMessageFactory()
        claim = claim_message(message_id=message.pk)
        assert claim.attempts == 1
        # The task that claimed it may still be sending until Celery kills it at its hard
        # time limit: no re-drive or duplicate task sends the message meanwhile.
        clock.tick(settings.CELERY_TASK_TIME_LIMIT)

        assert deliver_message(message_id=message.pk) is None
        assert mailoutbox == []

        # That worker died between sending and recording: a later attempt sends it.
        clock.tick(timedelta(minutes=5))

        assert deliver_message(message_id=message.pk) == DeliveryStatus.SENT
    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.attempts == 2


def test_a_message_whose_attempts_keep_dying_is_failed(mailoutbox, settings):
    settings.OUTBOUND_MAX_UNFINISHED_ATTEMPTS = 3
    message = OutboundMessageFactory(next_attempt_at=timezone.now())
    for _ in range(3):
        assert claim_message(message_id=message.pk) is not None  # ... and the worker dies
        message.refresh_from_db()
        message.next_attempt_at = timezone.now()
        message.save(update_fields=["next_attempt_at"])

    assert deliver_message(message_id=message.pk) is None

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.last_error == delivery.UNFINISHED_ERROR
    assert mailoutbox == []


def test_a_reported_attempt_resets_the_count_of_unfinished_ones(settings):
    settings.OUTBOUND_MAX_UNFINISHED_ATTEMPTS = 2
    settings.OUTBOUND_RETRY_BASE_SECONDS = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    message = OutboundMessageFactory(next_attempt_at=timezone.now())

    outcomes = [deliver_message(message_id=message.pk) for _ in range(5)]

    assert outcomes == [DeliveryStatus.PENDING] * 5
    message.refresh_from_db()
    assert message.unfinished_attempts == 0
    assert message.attempts == 5


# Failures against a real SMTP server
# ------------------------------------------------------------------------------
def test_smtp_server_receives_the_mail(smtp_server):
    message = OutboundMessageFactory(kind=Kind.AUTO, subject="Ack [#1]")

    assert deliver_message(message_id=message.pk) == DeliveryStatus.SENT

    (received,) = smtp_server.messages
    assert received["Message-ID"] == message.rfc_message_id
    assert received["Auto-Submitted"] == "auto-replied"
    assert smtp_server.handler.envelopes[0] == (
        "support@example.com",
        [message.request.requester_email],
    )


def test_smtp_451_is_temporary_and_scheduled_with_backoff(smtp_server, settings):
    settings.OUTBOUND_RETRY_BASE_SECONDS = 60
    smtp_server.handler.data_reply = "451 4.3.0 Try again later"
    message = OutboundMessageFactory()
    before = timezone.now()

    assert deliver_message(message_id=message.pk) == DeliveryStatus.PENDING

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.PENDING
    assert message.attempts == 1
    assert "451" in message.last_error
    assert before + timedelta(seconds=30) <= message.next_attempt_at
    assert message.next_attempt_at <= timezone.now() + timedelta(seconds=60)
    assert smtp_server.messages == []


def test_smtp_550_recipient_refused_is_permanent(smtp_server):
    smtp_server.handler.rcpt_reply = "550 5.1.1 No such user here"
    message = OutboundMessageFactory()

    assert deliver_message(message_id=message.pk) == DeliveryStatus.FAILED

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.attempts == 1
    assert message.next_attempt_at is None
    assert "SMTPRecipientsRefused" in message.last_error
    assert "550" in message.last_error


def test_smtp_554_at_data_is_permanent(smtp_server):
    smtp_server.handler.data_reply = "554 5.6.0 Message rejected as spam"
    message = OutboundMessageFactory()

    assert deliver_message(message_id=message.pk) == DeliveryStatus.FAILED


def test_connection_refused_is_temporary(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    message = OutboundMessageFactory()

    assert deliver_message(message_id=message.pk) == DeliveryStatus.PENDING

    message.refresh_from_db()
    assert "ConnectionRefusedError" in message.last_error


def test_mail_queued_while_smtp_is_down_goes_out_once_it_is_back(smtp_server, settings):
    settings.OUTBOUND_RETRY_BASE_SECONDS = 0
    smtp_server.stop()
    message = OutboundMessageFactory()

    assert deliver_message(message_id=message.pk) == DeliveryStatus.PENDING
    smtp_server.start()
    assert redrive_outbox_task() == 1
    assert redrive_outbox_task() == 0

    assert len(smtp_server.messages) == 1
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.attempts == 2


def test_temporary_failures_keep_a_mail_pending_past_any_number_of_attempts(smtp_server, settings):
    settings.OUTBOUND_RETRY_BASE_SECONDS = 0
    smtp_server.handler.data_reply = "421 4.7.0 Too busy"
    message = OutboundMessageFactory()

    outcomes = [deliver_message(message_id=message.pk) for _ in range(40)]

    assert outcomes == [DeliveryStatus.PENDING] * 40
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.PENDING
    assert message.attempts == 40

    smtp_server.handler.data_reply = None
    assert deliver_message(message_id=message.pk) == DeliveryStatus.SENT
    assert len(smtp_server.messages) == 1


def test_temporary_failures_past_the_horizon_fail_the_mail_and_report_it(
    smtp_server, settings, caplog, client
):
    settings.OUTBOUND_RETRY_BASE_SECONDS = 0
    smtp_server.handler.data_reply = "421 4.7.0 Too busy"
    with freeze_time(timezone.now(), real_asyncio=True) as clock:
        message = OutboundMessageFactory(give_up_at=timezone.now() + timedelta(minutes=5))
        assert deliver_message(message_id=message.pk) == DeliveryStatus.PENDING
        message.refresh_from_db()
        assert message.next_attempt_at <= message.give_up_at  # never scheduled past it
        # The server still refuses when the horizon comes.
        clock.move_to(message.give_up_at)

        assert deliver_message(message_id=message.pk) == DeliveryStatus.FAILED

    message.refresh_from_db()
    assert message.last_error.startswith(delivery.GAVE_UP_PREFIX)
    assert "421" in message.last_error
    assert f"Gave up on message {message.pk}" in caplog.text
    metrics = client.get("/metrics").content.decode()
    assert "servicedesk_outbound_given_up 1.0" in metrics


def test_without_a_stored_horizon_it_counts_from_the_creation(smtp_server, settings):
    settings.OUTBOUND_GIVE_UP_AFTER_DAYS = 1
    smtp_server.handler.data_reply = "451 4.3.0 Later"
    fresh = OutboundMessageFactory(give_up_at=None)
    old = OutboundMessageFactory(give_up_at=None, created_at=timezone.now() - timedelta(days=2))

    assert deliver_message(message_id=fresh.pk) == DeliveryStatus.PENDING
    assert deliver_message(message_id=old.pk) == DeliveryStatus.FAILED


def test_queued_mail_gets_its_horizon(settings):
    settings.OUTBOUND_GIVE_UP_AFTER_DAYS = 2
    from messages_app.outbound.outbox import queue_outbound_message
    from requests_app.tests.factories import SupportRequestFactory

    with freeze_time(timezone.now()):
        message = queue_outbound_message(
            support_request=SupportRequestFactory(), kind=Kind.AUTO, subject="s", body="b"
        )

        assert message.give_up_at == timezone.now() + timedelta(days=2)


def test_message_failed_after_its_last_attempt_can_be_sent_again_from_the_admin(
    smtp_server, settings, client, django_capture_on_commit_callbacks
):
    smtp_server.handler.data_reply = "552 5.2.2 Mailbox full"
    message = OutboundMessageFactory(created_at=timezone.now() - timedelta(days=30))
    deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED

    smtp_server.handler.data_reply = None
    client.force_login(OperatorFactory(user__is_staff=True, user__is_superuser=True).user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:messages_app_message_changelist"),
            {"action": "send_again", "_selected_action": [message.pk]},
            follow=True,
        )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.attempts == 1
    assert message.give_up_at > timezone.now()  # a fresh horizon, not the old one
    assert len(smtp_server.messages) == 1


# Classification and backoff
# ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "is_permanent"),
    [
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"greylisted")}), False),
        (smtplib.SMTPDataError(554, b"rejected"), True),
        (smtplib.SMTPDataError(451, b"try later"), False),
        (smtplib.SMTPSenderRefused(553, b"sender refused", "support@example.com"), True),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPConnectError(421, b"busy"), False),
        (smtplib.SMTPServerDisconnected("gone"), False),
        (ConnectionRefusedError(111, "refused"), False),
        (TimeoutError("timed out"), False),
        (ValueError("Invalid address"), True),
    ],
)
def test_failure_classification(exc, is_permanent):
    assert is_permanent_failure(exc) is is_permanent


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling(settings):
    settings.OUTBOUND_RETRY_BASE_SECONDS = 60
    settings.OUTBOUND_RETRY_MAX_SECONDS = 3600

    for attempts, full in [(1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (2000, 3600)]:
        delays = {retry_delay(attempts).total_seconds() for _ in range(50)}
        assert all(full / 2 <= delay <= full for delay in delays)
        assert len(delays) > 1  # jittered


# Concurrency (real row locks)
# ------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_message_send_one_mail(settings, monkeypatch):
    # The first delivery to claim the message is held in the middle of sending until the
    # three others have run to the end: they must see the claim and send nothing. Were
    # the claim not locked and committed before sending, they would send too, and wait
    # at the gate that only opens once three have finished without sending.
    settings.EMAIL_BACKEND = f"{__name__}.GatedBackend"
    monkeypatch.setattr(GatedBackend, "gate", threading.Event())
    monkeypatch.setattr(GatedBackend, "held", [])
    mail.outbox = []
    message = OutboundMessageFactory()
    barrier = threading.Barrier(4)
    outcomes = []
    lock = threading.Lock()

    def run():
        barrier.wait(timeout=10)
        try:
            outcome = deliver_message(message_id=message.pk)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)
            if outcomes.count(None) == 3:
                GatedBackend.gate.set()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes, key=str) == [None, None, None, DeliveryStatus.SENT]
    assert GatedBackend.held == [True]  # one send, and the others finished while it was held
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.attempts == 1


def test_failed_and_sent_messages_show_their_delivery_status_in_the_api(operator_client):
    failed = OutboundMessageFactory(delivery_status=DeliveryStatus.FAILED, attempts=8)
    OutboundMessageFactory(
        request=failed.request, delivery_status=DeliveryStatus.SENT, sent_at=timezone.now()
    )

    response = operator_client.get(f"/api/v1/requests/{failed.request_id}/messages/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [m["delivery_status"] for m in results] == ["failed", "sent"]
    assert results[0]["sent_at"] is None
    assert results[1]["sent_at"] is not None


def test_recording_a_sent_mail_rides_out_a_database_blip(monkeypatch, mailoutbox):
    monkeypatch.setattr(delivery, "RECORD_RETRY_PAUSES", (0, 0))
    real_update = QuerySet.update
    failures = iter([OperationalError("server closed the connection unexpectedly")])

    def flaky_update(self, **kwargs):
        if kwargs.get("delivery_status") == DeliveryStatus.SENT:
            error = next(failures, None)
            if error is not None:
                raise error
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", flaky_update)
    message = OutboundMessageFactory()

    assert deliver_message(message_id=message.pk) == DeliveryStatus.SENT

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert len(mailoutbox) == 1
