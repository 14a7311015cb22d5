import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from messages_app.tests.factories import InboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.models import Party, Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def test_second_open_request_for_the_same_requester_is_refused():
    SupportRequestFactory(requester_email="jane@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportRequestFactory(requester_email="jane@example.com")
    assert SupportRequest.objects.filter(requester_email="jane@example.com").count() == 1


def test_new_and_in_progress_both_count_as_open():
    SupportRequestFactory(requester_email="jane@example.com", taken=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportRequestFactory(requester_email="jane@example.com")


def test_closed_requests_do_not_block_a_new_open_one():
    SupportRequestFactory(requester_email="jane@example.com", closed=True)
    SupportRequestFactory(requester_email="jane@example.com", closed=True)
    SupportRequestFactory(requester_email="jane@example.com")
    assert SupportRequest.objects.filter(requester_email="jane@example.com").count() == 3


def test_in_progress_without_operator_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportRequestFactory(status=Status.IN_PROGRESS, operator=None)


def test_closed_without_closed_at_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportRequestFactory(status=Status.CLOSED, closed_at=None)


def test_unknown_status_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportRequestFactory(status="reopened")


def test_requester_email_must_be_stored_lower_case():
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportRequestFactory(requester_email="Jane@Example.com")


def test_deleting_an_operator_with_history_is_refused_and_keeps_everything():
    support_request = SupportRequestFactory(taken=True)
    message = InboundMessageFactory(request=support_request)
    operator = support_request.operator

    with pytest.raises(ProtectedError):
        operator.delete()
    with pytest.raises(ProtectedError):
        operator.user.delete()

    support_request.refresh_from_db()
    assert support_request.operator_id == operator.pk
    assert support_request.messages.get() == message


def test_deleting_an_operator_without_requests_works():
    operator = OperatorFactory()
    operator.user.delete()
    assert not type(operator).objects.filter(pk=operator.pk).exists()


@pytest.mark.parametrize(
    ("status", "last_reply_by", "expected"),
    [
        (Status.NEW, Party.REQUESTER, "operator"),
        (Status.IN_PROGRESS, Party.OPERATOR, "requester"),
        (Status.CLOSED, Party.REQUESTER, None),
        (Status.NEW, "", None),
    ],
)
def test_waiting_on_follows_the_newest_human_message(status, last_reply_by, expected):
    support_request = SupportRequest(
        status=status, last_reply_by=last_reply_by, closed_at=timezone.now()
    )
    assert support_request.waiting_on == expected


def test_token_names_the_request():
    support_request = SupportRequestFactory()
    assert support_request.token == f"[#{support_request.pk}]"
