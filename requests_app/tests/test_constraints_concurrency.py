"""Two connections racing to open a request for one address: the database decides."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from requests_app.models import SupportRequest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_inserts_of_an_open_request_for_one_address_let_exactly_one_win():
    attempts = 8
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def open_request(n: int) -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                SupportRequest.objects.create(
                    subject=f"attempt {n}", requester_email="race@example.com"
                )
            outcome = "created"
        except IntegrityError:
            outcome = "conflict"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=open_request, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["conflict"] * (attempts - 1) + ["created"]
    assert SupportRequest.objects.filter(requester_email="race@example.com").count() == 1
