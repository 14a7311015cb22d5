"""Two operators take the same request at the same moment, over real parallel connections."""

import threading

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from messages_app.models import Kind, Message
from operators_app.tests.factories import OperatorFactory
from requests_app.models import Status, SupportRequest
from requests_app.tests.factories import SupportRequestFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _client(operator) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=operator.user).key}")
    return client


def _race(url: str, clients: list[APIClient]) -> list:
    barrier = threading.Barrier(len(clients))
    responses: list = [None] * len(clients)

    def call(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[index] = clients[index].post(url)
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return responses


def test_two_operators_taking_one_request_at_once_exactly_one_wins_the_other_gets_409():
    alice, bob = OperatorFactory(name="Alice"), OperatorFactory(name="Bob")
    support_request = SupportRequestFactory()

    responses = _race(
        f"/api/v1/requests/{support_request.pk}/take/", [_client(alice), _client(bob)]
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["code"] == "already_taken"
    winner = next(r for r in responses if r.status_code == 200)
    stored = SupportRequest.objects.get(pk=support_request.pk)
    assert stored.status == Status.IN_PROGRESS
    assert stored.operator_id == winner.json()["operator"]["id"]
    assert Message.objects.filter(request=support_request, kind=Kind.AUTO).count() == 1


def test_many_operators_taking_one_request_at_once_exactly_one_wins():
    operators = [OperatorFactory() for _ in range(6)]
    support_request = SupportRequestFactory()

    responses = _race(
        f"/api/v1/requests/{support_request.pk}/take/", [_client(o) for o in operators]
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 5
    assert Message.objects.filter(request=support_request, kind=Kind.AUTO).count() == 1


def test_take_and_close_at_once_leave_a_consistent_request():
    alice, bob = OperatorFactory(), OperatorFactory()
    support_request = SupportRequestFactory()
    take_url = f"/api/v1/requests/{support_request.pk}/take/"
    close_url = f"/api/v1/requests/{support_request.pk}/close/"
    barrier = threading.Barrier(2)
    results = {}

    def call(name, client, url):
        try:
            barrier.wait(timeout=10)
            results[name] = client.post(url).status_code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=call, args=("take", _client(alice), take_url)),
        threading.Thread(target=call, args=("close", _client(bob), close_url)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    stored = SupportRequest.objects.get(pk=support_request.pk)
    notices = Message.objects.filter(request=support_request, kind=Kind.AUTO).count()
    if results["take"] == 200 and results["close"] == 403:
        # Alice took it first; Bob, not staff, may not close her request.
        assert stored.status == Status.IN_PROGRESS
        assert notices == 1
    else:
        # Bob closed it first; Alice cannot take a closed request.
        assert results == {"close": 200, "take": 409}
        assert stored.status == Status.CLOSED
        assert notices == 1
