"""Mail names the operator by name, replies carry the configured signature, and the
embedded default writes each mail to its own `.eml` file."""

from email import message_from_bytes, policy

import pytest
from django.core.mail import EmailMessage, get_connection

from messages_app.outbound.compose import post_reply
from messages_app.outbound.notices import render_notice
from operators_app.tests.factories import OperatorFactory
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db


def test_a_reply_is_signed_with_the_operators_name_and_the_service(settings):
    settings.SUPPORT_NAME = "Acme Support"
    operator = OperatorFactory(name="Alice Smith")
    support_request = SupportRequestFactory()

    message = post_reply(request_id=support_request.pk, operator=operator, body="Fixed.")

    assert message.body == "Fixed.\n\n-- \nAlice Smith\nAcme Support\n"
    assert message.reply == "Fixed."


def test_the_signature_is_configurable_and_can_be_turned_off(settings):
    operator = OperatorFactory(name="Alice Smith")
    support_request = SupportRequestFactory()

    settings.REPLY_SIGNATURE = "{operator_name}, {support_name}\nCall us: 555-0100 {unknown}"
    custom = post_reply(request_id=support_request.pk, operator=operator, body="One.")
    settings.REPLY_SIGNATURE = ""
    plain = post_reply(request_id=support_request.pk, operator=operator, body="Two.")

    assert custom.body == "One.\n\n-- \nAlice Smith, Service Desk\nCall us: 555-0100 {unknown}\n"
    assert plain.body == "Two."


def test_an_operator_known_only_by_username_is_not_named_by_it_in_mail():
    operator = OperatorFactory(name="admin", user__username="admin")
    support_request = SupportRequestFactory(operator=operator, status="in_progress")

    reply = post_reply(request_id=support_request.pk, operator=operator, body="Fixed.")
    _, taken, _ = render_notice(support_request=support_request, notice="taken")

    assert reply.body == "Fixed.\n\n-- \nService Desk\n"
    assert "admin" not in taken
    assert "is handling it" not in taken


def test_an_operator_with_a_full_name_is_named_by_it():
    operator = OperatorFactory(
        name="admin", user__username="admin", user__first_name="Ann", user__last_name="Lee"
    )
    support_request = SupportRequestFactory(operator=operator, status="in_progress")

    _, taken, _ = render_notice(support_request=support_request, notice="taken")

    assert "Ann Lee is handling it." in taken


def test_the_file_backend_writes_one_eml_file_per_mail(tmp_path):
    connection = get_connection(
        "messages_app.outbound.mail_backends.EmlFileBackend", file_path=str(tmp_path)
    )
    mails = [
        EmailMessage(f"Subject {n}", f"Body {n}", "support@example.com", ["jane@example.com"])
        for n in range(2)
    ]

    with connection:
        assert connection.send_messages(mails) == 2

    files = sorted(tmp_path.iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]
    parsed = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in files]
    assert sorted(mail["Subject"] for mail in parsed) == ["Subject 0", "Subject 1"]
    assert {mail.get_content().strip() for mail in parsed} == {"Body 0", "Body 1"}
