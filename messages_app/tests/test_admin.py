import pytest
from django.urls import reverse

from messages_app.models import CannedReply, DeliveryStatus
from messages_app.tests.factories import InboundMessageFactory, OutboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.models import SupportRequest
from requests_app.tests.factories import SupportRequestFactory

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


def test_deleting_a_canned_reply_deletes_it_and_leaves_the_requests_alone(operator_admin_client):
    support_request = SupportRequestFactory()
    author = OperatorFactory()
    # The same primary key as the request: deleting the reply must not reach the request.
    canned = CannedReply.objects.create(
        pk=support_request.pk, title="Restart", body="Hello", created_by=author
    )
    other = CannedReply.objects.create(title="Other", body="x", created_by=author)

    response = operator_admin_client.post(
        reverse("admin:messages_app_cannedreply_delete", args=[canned.pk]), {"post": "yes"}
    )
    bulk = operator_admin_client.post(
        reverse("admin:messages_app_cannedreply_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [other.pk],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert bulk.status_code == 302
    assert not CannedReply.objects.exists()
    assert SupportRequest.objects.filter(pk=support_request.pk).exists()
