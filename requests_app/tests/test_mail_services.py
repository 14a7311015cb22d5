"""The request writes inbound mail asks of the lifecycle layer: opening and counting."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from requests_app.models import Party, Status, SupportRequest
from requests_app.services import (
    MailOpening,
    RequestOpenedMeanwhileError,
    count_requester_mail,
    find_open_requests,
    open_requests_for_mail,
)
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def opening(email: str, count: int = 1) -> MailOpening:
    return MailOpening(requester_email=email, requester_name="", subject=email, message_count=count)


def test_requests_opened_for_mail_are_numbered_in_the_order_given():
    emails = ["zoe@example.com", "adam@example.com", "mia@example.com"]
    now = timezone.now()

    opened = open_requests_for_mail(openings=[opening(e, 2) for e in emails], now=now)

    assert [opened[e].pk for e in emails] == sorted(r.pk for r in opened.values())
    for email in emails:
        row = SupportRequest.objects.get(pk=opened[email].pk)
        assert (row.status, row.message_count, row.last_reply_by) == (
            Status.NEW,
            2,
            Party.REQUESTER,
        )
        assert row.created_at == row.last_message_at == now


def test_a_request_opened_meanwhile_refuses_the_opening_and_opens_nothing():
    SupportRequestFactory(requester_email="jane@example.com")
    with pytest.raises(RequestOpenedMeanwhileError):
        open_requests_for_mail(
            openings=[opening("bob@example.com"), opening("jane@example.com")],
            now=timezone.now(),
        )
    assert not SupportRequest.objects.filter(requester_email="bob@example.com").exists()


def test_an_opening_refused_for_another_reason_raises_the_databases_error():
    # A check constraint (addresses are stored lower-case), not a race.
    with pytest.raises(IntegrityError), transaction.atomic():
        open_requests_for_mail(openings=[opening("Upper@Example.com")], now=timezone.now())


def test_find_open_requests_leaves_closed_ones_out():
    SupportRequestFactory(requester_email="jane@example.com", closed=True)
    bob = SupportRequestFactory(requester_email="bob@example.com", taken=True)
    found = find_open_requests(requester_emails={"jane@example.com", "bob@example.com"})
    assert {email: r.pk for email, r in found.items()} == {"bob@example.com": bob.pk}


def test_requester_mail_is_counted_on_open_requests():
    one, two = SupportRequestFactory(message_count=1), SupportRequestFactory(message_count=4)
    now = timezone.now()
    assert count_requester_mail(counts={one.pk: 3, two.pk: 1}, now=now)
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.message_count, two.message_count) == (4, 5)
    assert one.last_reply_by == two.last_reply_by == Party.REQUESTER
    assert one.last_message_at == two.last_message_at == now


def test_requester_mail_on_a_closed_request_is_not_counted_at_all():
    open_one = SupportRequestFactory(message_count=1)
    closed = SupportRequestFactory(message_count=1, closed=True)
    assert not count_requester_mail(counts={open_one.pk: 1, closed.pk: 1}, now=timezone.now())
    assert sorted(SupportRequest.objects.values_list("message_count", flat=True)) == [1, 1]


def test_nothing_to_count_is_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert count_requester_mail(counts={}, now=timezone.now())
