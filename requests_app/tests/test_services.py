"""The status machine: take_request and close_request, their transitions and their notices."""

import pytest
from django.utils import timezone

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from requests_app.errors import AlreadyTakenError, InvalidTransitionError, NotHolderError
from requests_app.models import Party, Status, SupportRequest
from requests_app.services import close_request, take_request
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def auto_notices(support_request) -> list[Message]:
    return list(Message.objects.filter(request=support_request, kind=Kind.AUTO))


def test_take_moves_new_to_in_progress_with_the_operator_and_taken_at(operator):
    support_request = SupportRequestFactory()

    taken = take_request(request_id=support_request.pk, operator=operator)

    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert taken.status == stored.status == Status.IN_PROGRESS
    assert stored.operator == operator
    assert stored.taken_at is not None
    assert stored.closed_at is None


def test_take_queues_one_taken_notice_to_the_requester(operator):
    support_request = SupportRequestFactory(requester_email="jane@example.com")

    take_request(request_id=support_request.pk, operator=operator)

    [notice] = auto_notices(support_request)
    assert notice.direction == Direction.OUTBOUND
    assert notice.delivery_status == DeliveryStatus.PENDING
    assert notice.rfc_message_id
    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert stored.message_count == 1
    assert stored.last_message_at == notice.created_at


def test_an_automatic_notice_does_not_change_whose_turn_it_is(operator):
    support_request = SupportRequestFactory(last_reply_by=Party.REQUESTER)

    take_request(request_id=support_request.pk, operator=operator)

    assert SupportRequest.objects.get(pk=support_request.pk).waiting_on == Party.OPERATOR


def test_take_by_the_holder_again_changes_nothing_and_queues_nothing(operator):
    support_request = SupportRequestFactory()
    take_request(request_id=support_request.pk, operator=operator)
    before = SupportRequest.objects.get(pk=support_request.pk)

    again = take_request(request_id=support_request.pk, operator=operator)

    after = SupportRequest.objects.get(pk=support_request.pk)
    assert again.operator_id == operator.pk
    assert (after.taken_at, after.updated_at, after.message_count) == (
        before.taken_at,
        before.updated_at,
        before.message_count,
    )
    assert len(auto_notices(support_request)) == 1


def test_take_of_a_request_another_operator_holds_raises_already_taken(operator, other_operator):
    support_request = SupportRequestFactory(status=Status.IN_PROGRESS, operator=other_operator)

    with pytest.raises(AlreadyTakenError):
        take_request(request_id=support_request.pk, operator=operator)

    assert SupportRequest.objects.get(pk=support_request.pk).operator == other_operator
    assert auto_notices(support_request) == []


def test_take_of_a_closed_request_raises_invalid_transition(operator):
    support_request = SupportRequestFactory(closed=True)

    with pytest.raises(InvalidTransitionError):
        take_request(request_id=support_request.pk, operator=operator)

    assert SupportRequest.objects.get(pk=support_request.pk).status == Status.CLOSED
    assert auto_notices(support_request) == []


def test_take_of_a_missing_request_raises_does_not_exist(operator):
    with pytest.raises(SupportRequest.DoesNotExist):
        take_request(request_id=987654, operator=operator)


def test_close_of_a_new_request_by_any_operator(operator):
    support_request = SupportRequestFactory()

    closed = close_request(request_id=support_request.pk, operator=operator)

    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert closed.status == stored.status == Status.CLOSED
    assert stored.closed_at is not None
    assert stored.operator is None
    assert len(auto_notices(support_request)) == 1


def test_close_by_the_holder_keeps_the_holder(operator):
    support_request = SupportRequestFactory(
        status=Status.IN_PROGRESS, operator=operator, taken_at=timezone.now()
    )

    close_request(request_id=support_request.pk, operator=operator)

    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert stored.status == Status.CLOSED
    assert stored.operator == operator
    assert stored.waiting_on is None


def test_close_of_another_holders_request_needs_staff(operator, other_operator):
    support_request = SupportRequestFactory(status=Status.IN_PROGRESS, operator=other_operator)

    with pytest.raises(NotHolderError):
        close_request(request_id=support_request.pk, operator=operator)
    assert SupportRequest.objects.get(pk=support_request.pk).status == Status.IN_PROGRESS
    assert auto_notices(support_request) == []

    close_request(request_id=support_request.pk, operator=operator, is_staff=True)
    assert SupportRequest.objects.get(pk=support_request.pk).status == Status.CLOSED
    assert len(auto_notices(support_request)) == 1


def test_close_of_a_closed_request_raises_invalid_transition(operator):
    support_request = SupportRequestFactory(closed=True)

    with pytest.raises(InvalidTransitionError):
        close_request(request_id=support_request.pk, operator=operator, is_staff=True)

    assert auto_notices(support_request) == []


def test_the_notice_is_in_the_same_transaction_as_the_change(operator, monkeypatch):
    support_request = SupportRequestFactory()

    def fail(**kwargs):
        raise RuntimeError("outbox is down")

    monkeypatch.setattr("requests_app.services.queue_notice", fail)
    with pytest.raises(RuntimeError):
        take_request(request_id=support_request.pk, operator=operator)

    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert stored.status == Status.NEW
    assert stored.operator is None


def test_delivery_of_the_notice_is_triggered_after_commit(
    operator, django_capture_on_commit_callbacks, mailoutbox
):
    support_request = SupportRequestFactory(requester_email="jane@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        take_request(request_id=support_request.pk, operator=operator)

    [mail] = mailoutbox
    assert mail.to == ["jane@example.com"]
    assert f"[#{support_request.pk}]" in mail.subject
