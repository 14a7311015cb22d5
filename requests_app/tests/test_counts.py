"""The request list's `count`: large counts are cached until the requests change, and exact."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache

from messages_app.attachments import delete_messages
from messages_app.inbound.ingest import InboundItem, ingest_batch
from messages_app.tests.factories import InboundMessageFactory
from operators_app.models import Operator
from requests_app import counts, services
from requests_app.counts import count_key, count_requests, requests_changed
from requests_app.models import SupportRequest
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"
NEW = {"status": "new"}


@pytest.fixture
def cached_counts(settings, monkeypatch):
    """The production setting, with "large" meaning 3 requests or more."""
    settings.REQUEST_COUNT_CACHE_SECONDS = 60
    monkeypatch.setattr(counts, "CACHED_COUNT_MIN", 3)


def listed_count(client, **params) -> int:
    response = client.get(LIST, params)
    assert response.status_code == 200
    return response.json()["count"]


def warm(client, **params) -> int:
    """List twice: the first count starts a generation, the second is cached under it."""
    listed_count(client, **params)
    return listed_count(client, **params)


def test_a_cached_count_costs_no_query(cached_counts, operator_client, django_assert_num_queries):
    SupportRequestFactory.create_batch(4)
    assert warm(operator_client, **NEW) == 4

    # Token and operator, then the page: no count.
    with django_assert_num_queries(2):
        assert listed_count(operator_client, **NEW) == 4


def test_the_first_count_is_never_cached_as_it_could_predate_a_change(cached_counts):
    SupportRequestFactory.create_batch(4)

    assert count_requests(SupportRequest.objects.all(), filters={}) == 4
    assert cache.get(counts.GENERATION_KEY) is not None
    assert cache.get(count_key({})) is None


def test_small_counts_are_always_counted(cached_counts, operator_client):
    SupportRequestFactory.create_batch(2)
    assert warm(operator_client, **NEW) == 2
    # Written past every service: a small count sees it anyway.
    SupportRequestFactory()

    assert listed_count(operator_client, **NEW) == 3


# A word no Faker text holds: the search's count moves only with the mail that says it.
WORD = "zebra"


@dataclass
class Change:
    """A list's filters, its count before and after `apply`, the change under test."""

    filters: dict[str, str]
    before: int
    after: int
    apply: Callable[[], Any]


def mail(sender: str, text: str = "Hello") -> Callable[[], Any]:
    item = InboundItem(
        index=0,
        external_id=f"count-{sender}",
        fields={"user_email": sender, "title": "Hi", "description": text},
    )
    return lambda: ingest_batch(items=[item])


def taking(operator: Operator, staff: Operator) -> Change:
    first, *_ = SupportRequestFactory.create_batch(4)
    return Change(NEW, 4, 3, lambda: services.take_request(request_id=first.pk, operator=operator))


def assigning(operator: Operator, staff: Operator) -> Change:
    first, *_ = SupportRequestFactory.create_batch(4)
    return Change(
        NEW,
        4,
        3,
        lambda: services.assign_request(
            request_id=first.pk, actor=staff, to_operator_id=operator.pk
        ),
    )


def closing(operator: Operator, staff: Operator) -> Change:
    first, *_ = SupportRequestFactory.create_batch(4, taken=True, operator=operator)
    return Change(
        {"status": "in_progress"},
        4,
        3,
        lambda: services.close_request(request_id=first.pk, operator=operator),
    )


def opening(operator: Operator, staff: Operator) -> Change:
    SupportRequestFactory.create_batch(3, taken=True, operator=operator)
    return Change(
        {"status": "in_progress"},
        3,
        4,
        lambda: services.open_request(
            operator=operator, requester_email="caller@example.com", subject="Call", body="Hi"
        ),
    )


def mail_opening_a_request(operator: Operator, staff: Operator) -> Change:
    SupportRequestFactory.create_batch(3)
    return Change(NEW, 3, 4, mail("new@example.com"))


def with_the_word(count: int) -> None:
    InboundMessageFactory.create_batch(count, body=f"The {WORD} printer jams.")


def mail_to_an_open_request(operator: Operator, staff: Operator) -> Change:
    with_the_word(3)
    silent = SupportRequestFactory()
    return Change({"search": WORD}, 3, 4, mail(silent.requester_email, f"Now the {WORD} too."))


def writing_on_a_held_request(operator: Operator, write: Callable[..., Any], body: str) -> Change:
    with_the_word(3)
    held = SupportRequestFactory(taken=True, operator=operator)
    return Change(
        {"search": WORD}, 3, 4, lambda: write(request_id=held.pk, operator=operator, body=body)
    )


def replying(operator: Operator, staff: Operator) -> Change:
    return writing_on_a_held_request(operator, services.reply_to_request, f"Is it {WORD}?")


def noting(operator: Operator, staff: Operator) -> Change:
    return writing_on_a_held_request(operator, services.add_note, f"Likely the {WORD}.")


def deleting_a_message(operator: Operator, staff: Operator) -> Change:
    first, *_ = InboundMessageFactory.create_batch(4, body=f"The {WORD} printer jams.")
    return Change({"search": WORD}, 4, 3, lambda: delete_messages(message_ids=[first.pk]))


@pytest.mark.parametrize(
    "change",
    [
        taking,
        assigning,
        closing,
        opening,
        mail_opening_a_request,
        mail_to_an_open_request,
        replying,
        noting,
        deleting_a_message,
    ],
)
def test_each_kind_of_change_makes_a_cached_count_stale(
    change,
    cached_counts,
    operator_client,
    operator,
    staff_operator,
    django_capture_on_commit_callbacks,
):
    case = change(operator, staff_operator)
    assert warm(operator_client, **case.filters) == case.before
    # Cached: the list would answer `before` without counting.
    cleaned = {k: v.split(",") if k == "status" else v for k, v in case.filters.items()}
    assert cache.get(count_key(cleaned))[1] == case.before

    with django_capture_on_commit_callbacks(execute=True):
        case.apply()

    assert listed_count(operator_client, **case.filters) == case.after


def test_a_change_rolled_back_keeps_the_cached_counts(cached_counts):
    from django.db import transaction

    SupportRequestFactory.create_batch(3)
    count_requests(SupportRequest.objects.all(), filters={})
    generation = cache.get(counts.GENERATION_KEY)

    def change_then_fail():
        with transaction.atomic():
            requests_changed()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()

    assert cache.get(counts.GENERATION_KEY) == generation


def test_deleting_requests_in_the_admin_retires_the_cached_counts(
    cached_counts, operator_client, admin_client, django_capture_on_commit_callbacks
):
    doomed = SupportRequestFactory.create_batch(4)
    assert warm(operator_client, **NEW) == 4

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/requests_app/supportrequest/",
            {"action": "delete_selected", "_selected_action": [doomed[0].pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert listed_count(operator_client, **NEW) == 3


def test_editing_a_subject_in_the_admin_retires_the_cached_counts(
    cached_counts, operator_client, admin_client, django_capture_on_commit_callbacks
):
    edited, *_ = SupportRequestFactory.create_batch(4, subject="printer")
    assert warm(operator_client, search="printer") == 4

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/requests_app/supportrequest/{edited.pk}/change/",
            {
                "subject": "scanner",
                "requester_name": edited.requester_name,
                # The read-only messages inline still posts its management form.
                "messages-TOTAL_FORMS": "0",
                "messages-INITIAL_FORMS": "0",
                "events-TOTAL_FORMS": "0",
                "events-INITIAL_FORMS": "0",
            },
        )

    assert response.status_code == 302
    assert listed_count(operator_client, search="printer") == 3


def test_a_write_past_the_services_shows_within_the_cache_lifetime(cached_counts, operator_client):
    SupportRequestFactory.create_batch(4)
    assert warm(operator_client, **NEW) == 4
    SupportRequestFactory()  # raw write: no generation change

    assert listed_count(operator_client, **NEW) == 4
    cache.delete(count_key({"status": ["new"]}))  # what expiry does
    assert listed_count(operator_client, **NEW) == 5


def test_orderings_share_one_count_and_filters_do_not(cached_counts, operator_client):
    SupportRequestFactory.create_batch(4)
    SupportRequestFactory.create_batch(3, closed=True)
    assert warm(operator_client, **NEW) == 4

    assert listed_count(operator_client, status="new", ordering="subject") == 4
    assert warm(operator_client, status="closed") == 3
    assert listed_count(operator_client) == 7


def test_the_key_ignores_order_and_empty_filters():
    assert count_key({"status": ["new", "in_progress"], "search": ""}) == count_key(
        {"status": ["in_progress", "new"], "operator": None}
    )
    assert count_key({"status": ["new"]}) != count_key({"status": ["closed"]})
    assert count_key({"operator": 1}) != count_key({"operator": "none"})


def test_zero_seconds_counts_every_time(settings, operator_client, django_assert_num_queries):
    settings.REQUEST_COUNT_CACHE_SECONDS = 0
    SupportRequestFactory.create_batch(4)
    warm(operator_client)

    with django_assert_num_queries(3):
        assert listed_count(operator_client) == 4


def test_an_unreachable_redis_counts_every_time(
    cached_counts,
    unreachable_redis_cache,
    operator_client,
    operator,
    django_capture_on_commit_callbacks,
):
    first, *_ = SupportRequestFactory.create_batch(4)
    assert warm(operator_client, **NEW) == 4

    with django_capture_on_commit_callbacks(execute=True):
        services.take_request(
            request_id=first.pk, operator=operator
        )  # its retiring fails quietly too

    assert listed_count(operator_client, **NEW) == 3
    requests_changed()  # outside a transaction: runs now, raises nothing


@pytest.mark.redis
def test_counts_are_shared_through_redis(
    redis_cache, settings, monkeypatch, operator_client, django_capture_on_commit_callbacks
):
    settings.REQUEST_COUNT_CACHE_SECONDS = 60
    monkeypatch.setattr(counts, "CACHED_COUNT_MIN", 3)
    first, *_ = SupportRequestFactory.create_batch(4)
    assert warm(operator_client, **NEW) == 4
    assert redis_cache.get(count_key({"status": ["new"]}))[1] == 4

    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
        requests_changed()

    assert listed_count(operator_client, **NEW) == 3
