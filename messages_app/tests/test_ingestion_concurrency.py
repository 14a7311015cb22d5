"""Parallel webhook posts over real PostgreSQL connections: the database keeps the rules."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from messages_app.models import Direction, Message
from requests_app.models import Status, SupportRequest
from testing.mail import SECRET, make_mail, post_batch, raw_item

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET


def post_in_parallel(batches: list[list[dict]]) -> list[dict]:
    """Post each batch from its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(batches))

    def post(batch):
        try:
            barrier.wait(timeout=30)
            response = post_batch(Client(), batch)
            assert response.status_code == 200, response.content
            return response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        return list(pool.map(post, batches))


def inbound():
    return Message.objects.filter(direction=Direction.INBOUND)


def test_parallel_batches_for_one_new_sender_open_exactly_one_request():
    batches = [
        [
            raw_item(
                make_mail(subject=f"worker {w} mail {n}", message_id=f"<w{w}n{n}@example.com>"),
                f"w{w}-n{n}",
            )
            for n in range(5)
        ]
        for w in range(WORKERS)
    ]
    answers = post_in_parallel(batches)

    assert SupportRequest.objects.filter(requester_email="jane@example.com").count() == 1
    support_request = SupportRequest.objects.get()
    assert support_request.status == Status.NEW
    assert inbound().count() == WORKERS * 5
    assert sorted(inbound().values_list("external_id", flat=True)) == sorted(
        item["id"] for batch in batches for item in batch
    )
    outcomes = [r["outcome"] for answer in answers for r in answer["results"]]
    assert outcomes.count("created") == 1
    assert outcomes.count("appended") == WORKERS * 5 - 1
    assert {r["request_id"] for answer in answers for r in answer["results"]} == {
        support_request.pk
    }
    acks = Message.objects.filter(direction=Direction.OUTBOUND).count()
    assert acks == 1
    assert support_request.message_count == WORKERS * 5 + acks


def test_concurrent_duplicate_posts_store_each_message_once():
    batch = [
        raw_item(make_mail(sender=f"user{n}@example.com", subject=f"mail {n}"), f"dup-{n}")
        for n in range(10)
    ]
    answers = post_in_parallel([batch] * WORKERS)

    assert inbound().count() == 10
    assert SupportRequest.objects.count() == 10
    for index in range(10):
        results = [answer["results"][index] for answer in answers]
        assert sorted(r["outcome"] for r in results) == ["created"] + ["duplicate"] * (WORKERS - 1)
        assert len({(r["request_id"], r["message_id"]) for r in results}) == 1
    for support_request in SupportRequest.objects.all():
        assert support_request.message_count == 2


def test_concurrent_duplicates_without_ids_are_deduplicated_by_message_id():
    batch = [
        {"user_email": "jane@example.com", "title": f"t{n}", "message_id": f"<m{n}@example.com>"}
        for n in range(6)
    ]
    post_in_parallel([batch] * WORKERS)
    assert inbound().count() == 6
    assert SupportRequest.objects.count() == 1


def test_overlapping_senders_in_any_order_never_deadlock_or_split_requests():
    senders = [f"user{n}@example.com" for n in range(12)]
    rng = random.Random(7)
    batches = []
    for w in range(WORKERS):
        order = senders[:]
        rng.shuffle(order)
        batches.append(
            [
                raw_item(make_mail(sender=sender, subject=f"w{w}"), f"w{w}-{sender}")
                for sender in order
            ]
        )
    post_in_parallel(batches)

    assert inbound().count() == WORKERS * len(senders)
    for sender in senders:
        support_request = SupportRequest.objects.get(requester_email=sender)
        assert support_request.messages.filter(direction=Direction.INBOUND).count() == WORKERS
        assert support_request.message_count == WORKERS + 1


def test_requests_closed_while_mail_arrives_lose_no_mail_and_keep_one_open_request():
    from requests_app.services import close_request
    from requests_app.tests.factories import SupportRequestFactory

    senders = [f"user{n}@example.com" for n in range(6)]
    for sender in senders:
        SupportRequestFactory(requester_email=sender)
    batches = [
        [
            raw_item(make_mail(sender=sender, subject=f"w{w}"), f"w{w}-{sender}")
            for sender in senders
        ]
        for w in range(WORKERS - 1)
    ]
    barrier = threading.Barrier(WORKERS)

    def close_all():
        try:
            barrier.wait(timeout=30)
            for support_request in SupportRequest.objects.filter(status=Status.NEW):
                close_request(request_id=support_request.pk, operator=None, is_staff=True)
        finally:
            connection.close()

    def post(batch):
        try:
            barrier.wait(timeout=30)
            response = post_batch(Client(), batch)
            assert response.status_code == 200, response.content
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(post, batch) for batch in batches] + [pool.submit(close_all)]
        for future in futures:
            future.result()

    assert inbound().count() == (WORKERS - 1) * len(senders)
    for sender in senders:
        assert (
            SupportRequest.objects.filter(requester_email=sender)
            .exclude(status=Status.CLOSED)
            .count()
            <= 1
        )
    for support_request in SupportRequest.objects.all():
        assert support_request.message_count == support_request.messages.count()
        if support_request.status == Status.CLOSED:
            # Nothing arrived after the "closed" notice was queued.
            notice = support_request.messages.get(direction=Direction.OUTBOUND)
            assert not support_request.messages.filter(
                direction=Direction.INBOUND, pk__gt=notice.pk
            ).exists()
