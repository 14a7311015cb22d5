import pytest
from django.urls import reverse

from messages_app.models import Kind
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from operators_app.tests.factories import UserFactory
from requests_app.models import Status
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:requests_app_supportrequest_changelist")


def test_changelist_renders_with_filters_and_search(operator_admin_client):
    SupportRequestFactory(subject="Printer jams", requester_email="jane@example.com")
    SupportRequestFactory(subject="VPN is down", taken=True)

    response = operator_admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"Printer jams" in response.content
    assert b"VPN is down" in response.content

    response = operator_admin_client.get(CHANGELIST, {"q": "jane@"})
    assert b"Printer jams" in response.content
    assert b"VPN is down" not in response.content

    response = operator_admin_client.get(CHANGELIST, {"status__exact": Status.IN_PROGRESS})
    assert b"VPN is down" in response.content
    assert b"Printer jams" not in response.content


def test_change_page_shows_the_messages_inline_read_only(operator_admin_client):
    support_request = SupportRequestFactory()
    InboundMessageFactory(request=support_request, body="It jams on every page.")

    url = reverse("admin:requests_app_supportrequest_change", args=[support_request.pk])
    response = operator_admin_client.get(url)

    assert response.status_code == 200
    assert b"It jams on every page." in response.content
    # History is shown, not offered as form fields.
    assert b'name="messages-0-body"' not in response.content


def test_request_page_lists_its_mail_one_line_each_with_a_link(operator_admin_client):
    message = InboundMessageFactory(body="Long body\n" * 50, reply="The printer jams again")
    OutboundMessageFactory(request=message.request, body="Try this", reply="Try this")

    response = operator_admin_client.get(
        reverse("admin:requests_app_supportrequest_change", args=[message.request.pk])
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "The printer jams again" in content
    assert reverse("admin:messages_app_message_change", args=[message.pk]) in content
    assert "Long body" not in content
    assert "<textarea" not in content.split('id="messages-group"')[1]


def test_take_action_takes_through_the_service_and_queues_the_notice(operator_admin_client):
    support_request = SupportRequestFactory()

    response = operator_admin_client.post(
        CHANGELIST,
        {"action": "take_selected", "_selected_action": [support_request.pk]},
        follow=True,
    )

    assert response.status_code == 200
    support_request.refresh_from_db()
    assert support_request.status == Status.IN_PROGRESS
    assert support_request.operator == operator_admin_client.operator
    assert support_request.messages.filter(kind=Kind.AUTO).count() == 1


def test_close_action_closes_and_reports_refusals(operator_admin_client):
    open_request = SupportRequestFactory()
    closed_request = SupportRequestFactory(closed=True)

    response = operator_admin_client.post(
        CHANGELIST,
        {"action": "close_selected", "_selected_action": [open_request.pk, closed_request.pk]},
        follow=True,
    )

    open_request.refresh_from_db()
    assert open_request.status == Status.CLOSED
    assert open_request.closed_at is not None
    assert b"Closed 1 request(s)." in response.content
    assert f"#{closed_request.pk}:".encode() in response.content


def test_take_action_by_staff_without_a_profile_makes_them_an_operator(client):
    user = UserFactory(is_staff=True, is_superuser=True, first_name="Ann", last_name="Lee")
    client.force_login(user)
    support_request = SupportRequestFactory()

    response = client.post(
        CHANGELIST,
        {"action": "take_selected", "_selected_action": [support_request.pk]},
        follow=True,
    )

    assert b"Took 1 request(s)." in response.content
    support_request.refresh_from_db()
    assert support_request.status == Status.IN_PROGRESS
    assert support_request.operator.user == user
    assert support_request.operator.name == "Ann Lee"


def test_requests_cannot_be_added_by_hand(operator_admin_client):
    response = operator_admin_client.get(reverse("admin:requests_app_supportrequest_add"))
    assert response.status_code == 403


def test_the_request_page_shows_its_history_and_notes(operator_admin_client):
    from requests_app.services import add_note, take_request

    support_request = SupportRequestFactory(subject="Printer jams")
    take_request(request_id=support_request.pk, operator=operator_admin_client.operator)
    add_note(
        request_id=support_request.pk, operator=operator_admin_client.operator, body="Called her"
    )

    response = operator_admin_client.get(
        reverse("admin:requests_app_supportrequest_change", args=[support_request.pk])
    )

    assert response.status_code == 200
    assert b"History" in response.content or b"history" in response.content
    assert b"Taken" in response.content
    assert b"Called her" in response.content


def test_canned_replies_are_added_in_the_admin_by_the_admin_operator(operator_admin_client):
    from messages_app.models import CannedReply

    response = operator_admin_client.post(
        reverse("admin:messages_app_cannedreply_add"),
        {"title": "Restart", "body": "Hello {requester_name}"},
    )

    assert response.status_code == 302
    [canned] = CannedReply.objects.all()
    assert canned.created_by == operator_admin_client.operator
    listing = operator_admin_client.get(reverse("admin:messages_app_cannedreply_changelist"))
    assert b"Restart" in listing.content
