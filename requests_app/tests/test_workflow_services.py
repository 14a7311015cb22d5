"""The operator workflow's services: opening, assigning, notes, replies and their history."""

import smtplib

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail.backends.base import BaseEmailBackend

from messages_app.canned import render_canned_reply
from messages_app.models import CannedReply, DeliveryStatus, Direction, Kind, Message
from operators_app.tests.factories import OperatorFactory
from requests_app import services
from requests_app.errors import InvalidTransitionError, NotHolderError, OpenRequestExistsError
from requests_app.models import EventType, Party, Status, SupportRequest
from requests_app.selectors import list_events
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that refuses every recipient for good."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"jane@example.com": (550, b"refused")})


def event_types(support_request) -> list[str]:
    return [event.type for event in list_events(request_id=support_request.pk)]


def test_open_request_is_in_progress_held_by_the_caller_with_its_first_mail(
    operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        support_request = services.open_request(
            operator=operator,
            requester_email="Jane@Example.com",
            requester_name="Jane Doe",
            subject="Your new laptop",
            body="It is ready for pick-up.",
        )

    assert support_request.status == Status.IN_PROGRESS
    assert support_request.operator == operator
    assert support_request.requester_email == "jane@example.com"
    assert support_request.waiting_on == Party.REQUESTER
    assert support_request.first_response_at is None
    [message] = Message.objects.filter(request=support_request)
    assert (message.direction, message.kind) == (Direction.OUTBOUND, Kind.OPERATOR)
    assert message.subject == f"Your new laptop [#{support_request.pk}]"
    [sent] = mail.outbox
    assert sent.to == ["jane@example.com"]
    assert sent.body.startswith("It is ready for pick-up.")
    assert event_types(support_request) == [EventType.CREATED]


def test_open_request_for_a_requester_with_an_open_request_names_it(operator):
    existing = SupportRequestFactory(requester_email="jane@example.com")

    with pytest.raises(OpenRequestExistsError) as caught:
        services.open_request(
            operator=operator, requester_email="JANE@example.com", subject="s", body="b"
        )

    assert caught.value.request_id == existing.pk
    assert SupportRequest.objects.count() == 1
    assert mail.outbox == []


def test_assign_by_staff_takes_a_new_request_and_queues_the_taken_notice(staff_operator, operator):
    support_request = SupportRequestFactory()

    services.assign_request(
        request_id=support_request.pk, actor=staff_operator, to_operator_id=operator.pk
    )

    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert (stored.status, stored.operator) == (Status.IN_PROGRESS, operator)
    assert Message.objects.filter(request=stored, kind=Kind.AUTO).count() == 1
    [assigned] = [e for e in list_events(request_id=stored.pk) if e.type == EventType.ASSIGNED]
    assert assigned.operator == staff_operator
    assert assigned.data == {"from_operator": None, "to_operator": operator.pk}
    assert event_types(stored) == [EventType.ASSIGNED, EventType.NOTICE_SENT]


def test_the_holder_hands_a_request_on_without_mail(operator, other_operator):
    support_request = SupportRequestFactory(taken=True, operator=operator)

    services.assign_request(
        request_id=support_request.pk, actor=operator, to_operator_id=other_operator.pk
    )

    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert stored.operator == other_operator
    assert not Message.objects.filter(request=stored).exists()


def test_assign_by_someone_else_is_refused(operator, other_operator):
    held = SupportRequestFactory(taken=True, operator=other_operator)
    new = SupportRequestFactory()

    for support_request in (held, new):
        with pytest.raises(NotHolderError):
            services.assign_request(
                request_id=support_request.pk, actor=operator, to_operator_id=operator.pk
            )


def test_assign_refuses_closed_requests_and_inactive_operators(staff_operator):
    closed = SupportRequestFactory(closed=True)
    with pytest.raises(InvalidTransitionError):
        services.assign_request(
            request_id=closed.pk, actor=staff_operator, to_operator_id=staff_operator.pk
        )

    inactive = OperatorFactory(user__is_active=False)
    with pytest.raises(ValidationError):
        services.assign_request(
            request_id=SupportRequestFactory().pk, actor=staff_operator, to_operator_id=inactive.pk
        )


def test_a_note_is_never_mailed_and_leaves_turn_and_last_message_alone(operator):
    support_request = SupportRequestFactory(closed=True, last_reply_by=Party.REQUESTER)
    before = SupportRequest.objects.get(pk=support_request.pk)

    note = services.add_note(
        request_id=support_request.pk, operator=operator, body="Called her back."
    )

    after = SupportRequest.objects.get(pk=support_request.pk)
    assert (note.direction, note.kind, note.delivery_status) == (
        Direction.INTERNAL,
        Kind.NOTE,
        None,
    )
    assert after.last_message_at == before.last_message_at
    assert after.last_reply_by == Party.REQUESTER
    assert mail.outbox == []
    assert event_types(after) == [EventType.NOTED]


def test_the_first_operator_reply_sets_first_response_at_and_later_ones_keep_it(operator):
    support_request = SupportRequestFactory()
    services.take_request(request_id=support_request.pk, operator=operator)
    services.add_note(request_id=support_request.pk, operator=operator, body="note")
    assert SupportRequest.objects.get(pk=support_request.pk).first_response_at is None

    first = services.reply_to_request(request_id=support_request.pk, operator=operator, body="one")
    services.reply_to_request(request_id=support_request.pk, operator=operator, body="two")

    assert SupportRequest.objects.get(pk=support_request.pk).first_response_at == first.created_at


def test_history_records_every_change_in_order(operator):
    support_request = SupportRequestFactory()
    services.take_request(request_id=support_request.pk, operator=operator)
    services.reply_to_request(request_id=support_request.pk, operator=operator, body="Try again?")
    services.add_note(request_id=support_request.pk, operator=operator, body="note")
    services.close_request(request_id=support_request.pk, operator=operator)

    assert event_types(support_request) == [
        EventType.TAKEN,
        EventType.NOTICE_SENT,
        EventType.REPLIED,
        EventType.NOTED,
        EventType.CLOSED,
        EventType.NOTICE_SENT,
    ]


def test_a_failed_mail_is_in_the_history(operator, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "requests_app.tests.test_workflow_services.RefusingBackend"
    support_request = SupportRequestFactory()

    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply_to_request(
            request_id=support_request.pk, operator=operator, body="Hello"
        )

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    [failed] = [e for e in list_events(request_id=support_request.pk) if e.type == "mail_failed"]
    assert failed.data["message_id"] == message.pk
    assert "refused" in failed.data["error"]


def test_canned_reply_fills_known_placeholders_and_leaves_other_braces(operator):
    support_request = SupportRequestFactory(requester_name="Jane", subject="VPN")
    canned = CannedReply(
        title="t",
        body="Hi {requester_name}, about {subject} [#{request_id}] from {operator_name}: "
        "{unknown} {subject.__class__} {0} {requester_email!r} { } {",
        created_by=operator,
    )

    text = render_canned_reply(
        canned_reply=canned, support_request=support_request, operator=operator
    )

    assert text == (
        f"Hi Jane, about VPN [#{support_request.pk}] from {operator.name}: "
        "{unknown} {subject.__class__} {0} {requester_email!r} { } {"
    )
