import pytest
from django.urls import reverse

from messages_app.models import DeliveryStatus
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:messages_app_message_changelist")


def test_changelist_and_change_page_render(operator_admin_client):
    message = InboundMessageFactory(subject="Printer is broken")

    assert b"Printer is broken" in operator_admin_client.get(CHANGELIST).content
    response = operator_admin_client.get(
        reverse("admin:messages_app_message_change", args=[message.pk])
    )
    assert response.status_code == 200


def test_filter_by_delivery_status(operator_admin_client):
    OutboundMessageFactory(subject="went out", delivery_status=DeliveryStatus.SENT)
    OutboundMessageFactory(subject="stuck", delivery_status=DeliveryStatus.FAILED)

    response = operator_admin_client.get(CHANGELIST, {"delivery_status__exact": "failed"})

    assert b"stuck" in response.content
    assert b"went out" not in response.content


def test_send_again_requeues_failed_messages_only(
    operator_admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    failed = OutboundMessageFactory(
        delivery_status=DeliveryStatus.FAILED, attempts=8, last_error="550 mailbox unavailable"
    )
    sent = OutboundMessageFactory(delivery_status=DeliveryStatus.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_admin_client.post(
            CHANGELIST,
            {"action": "send_again", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )

    assert response.status_code == 200
    failed.refresh_from_db()
    # Tasks run in-process without a broker: the mail went out again right away.
    assert failed.delivery_status == DeliveryStatus.SENT
    assert failed.last_error == ""
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [failed.request.requester_email]
    assert b"Skipped 1 message(s)" in response.content


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
