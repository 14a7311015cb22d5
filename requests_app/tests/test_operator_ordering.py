"""The list's `operator` ordering follows every change of a request's holder and of a
holder's name (the services keep the name the ordering reads on the request)."""

import pytest
from django.urls import reverse

from operators_app.services import rename_operator
from operators_app.tests.factories import OperatorFactory
from requests_app.services import assign_request, open_request, take_request
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"


def listed(client, ordering: str) -> list[tuple[int, str | None]]:
    response = client.get(LIST, {"ordering": ordering})
    assert response.status_code == 200, response.content
    return [
        (item["id"], item["operator"] and item["operator"]["name"])
        for item in response.json()["results"]
    ]


@pytest.fixture
def held(staff_operator):
    """Requests held by Carol (opened by her), Bob (taken), Alice (assigned), and nobody."""
    alice = OperatorFactory(name="Alice")
    bob = OperatorFactory(name="Bob")
    carol = OperatorFactory(name="Carol")
    by_carol = open_request(operator=carol, requester_email="c@example.com", subject="s", body="b")
    by_bob = SupportRequestFactory()
    take_request(request_id=by_bob.pk, operator=bob)
    by_alice = SupportRequestFactory()
    assign_request(request_id=by_alice.pk, actor=staff_operator, to_operator_id=alice.pk)
    nobody = SupportRequestFactory()
    return {"alice": alice, "bob": bob, "carol": carol}, [by_alice, by_bob, by_carol, nobody]


def test_operator_ordering_sorts_by_the_holder_name_set_by_open_take_and_assign(
    operator_client, held
):
    _, (by_alice, by_bob, by_carol, nobody) = held

    assert listed(operator_client, "operator") == [
        (by_alice.pk, "Alice"),
        (by_bob.pk, "Bob"),
        (by_carol.pk, "Carol"),
        (nobody.pk, None),
    ]
    descending = [pk for pk, _ in listed(operator_client, "-operator")]
    assert descending == [r.pk for r in (nobody, by_carol, by_bob, by_alice)]


def test_a_request_handed_on_sorts_under_its_new_holder(operator_client, held):
    operators, (by_alice, by_bob, by_carol, nobody) = held

    assign_request(
        request_id=by_alice.pk, actor=operators["alice"], to_operator_id=operators["carol"].pk
    )

    # Two requests of Carol's: the older first (ties go by id).
    ascending = [pk for pk, _ in listed(operator_client, "operator")]
    assert ascending == [r.pk for r in (by_bob, by_carol, by_alice, nobody)]


def test_a_renamed_operator_requests_sort_under_the_new_name(operator_client, held):
    operators, (by_alice, by_bob, by_carol, nobody) = held

    rename_operator(operator=operators["alice"], name="Zoe")

    assert listed(operator_client, "operator") == [
        (by_bob.pk, "Bob"),
        (by_carol.pk, "Carol"),
        (by_alice.pk, "Zoe"),
        (nobody.pk, None),
    ]


def test_renaming_in_the_operator_admin_reorders_the_list(client, operator_client, held):
    operators, (_, _, by_carol, _) = held
    client.force_login(OperatorFactory(user__is_staff=True, user__is_superuser=True).user)

    response = client.post(
        reverse("admin:operators_app_operator_change", args=[operators["carol"].pk]),
        {"name": "Aaron"},
    )

    assert response.status_code == 302, response.content
    assert listed(operator_client, "operator")[0] == (by_carol.pk, "Aaron")
