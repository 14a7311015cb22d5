"""manage.py seed_demo (messages_app: it writes operators, requests and their mail): realistic
rows whose counters and constraints are right."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Max

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from operators_app.models import Operator
from requests_app.models import OPEN_STATUSES, Party, Status, SupportRequest

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", no_progress=True, stdout=out, **options)
    return out.getvalue()


def test_seed_demo_creates_requests_in_every_status_with_their_threads():
    output = seed(requests=120, operators=3, seed=7)

    assert "Created 120 requests" in output
    assert SupportRequest.objects.count() == 120
    assert Operator.objects.filter(user__username__startswith="demo-").count() == 3
    assert set(SupportRequest.objects.values_list("status", flat=True)) == set(Status.values)
    assert Message.objects.filter(direction=Direction.INBOUND).exists()
    assert Message.objects.filter(kind=Kind.OPERATOR).exists()


def test_seeded_counters_match_the_messages():
    seed(requests=80, seed=3)

    rows = SupportRequest.objects.annotate(
        stored=Count("messages"), newest=Max("messages__created_at")
    )
    for row in rows:
        assert row.message_count == row.stored
        assert row.last_message_at == row.newest
        newest_human = row.messages.exclude(kind=Kind.AUTO).order_by("-created_at", "-id")[0]
        expected = Party.REQUESTER if newest_human.kind == Kind.REQUESTER else Party.OPERATOR
        assert row.last_reply_by == expected
        assert row.updated_at >= row.created_at


def test_seeded_rows_keep_the_models_rules():
    seed(requests=150, seed=11)

    open_per_requester = (
        SupportRequest.objects.filter(status__in=OPEN_STATUSES)
        .values("requester_email")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not open_per_requester.exists()
    assert not SupportRequest.objects.filter(
        status=Status.IN_PROGRESS, operator__isnull=True
    ).exists()
    assert not SupportRequest.objects.filter(status=Status.CLOSED, closed_at__isnull=True).exists()
    assert not Message.objects.filter(
        direction=Direction.OUTBOUND, delivery_status__isnull=True
    ).exists()
    assert Message.objects.filter(delivery_status=DeliveryStatus.SENT).exists()
    for message in Message.objects.filter(kind=Kind.AUTO):
        assert message.subject.endswith(f"[#{message.request_id}]")


def test_seed_demo_runs_again_on_top_of_existing_data():
    seed(requests=40, seed=1)
    seed(requests=40, seed=1)

    assert SupportRequest.objects.count() == 80
    assert Operator.objects.filter(user__username__startswith="demo-").count() == 8


def test_seeded_data_is_served_by_the_list_api(operator_client):
    seed(requests=30, seed=5)

    response = operator_client.get("/api/v1/requests/", {"status": "new,in_progress"})

    assert response.status_code == 200
    assert (
        response.json()["count"] == SupportRequest.objects.filter(status__in=OPEN_STATUSES).count()
    )


def test_seed_demo_refuses_nonsense_arguments():
    with pytest.raises(CommandError):
        seed(requests=-1)
