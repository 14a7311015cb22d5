"""`manage.py send_test_mail` posts signed mail to a running service and prints the outcome."""

import pytest
from django.core.management import CommandError, call_command

from messages_app.models import Direction, Message
from requests_app.models import SupportRequest
from testing.mail import SECRET, make_mail

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service(live_server, settings):
    """The service on a real HTTP port, with the webhook configured."""
    settings.INBOUND_WEBHOOK_SECRET = SECRET
    return live_server.url


def test_a_generated_test_mail_opens_a_request_and_the_outcome_is_printed(service, capsys):
    call_command("send_test_mail", "--url", service, "--from", "Jane Doe <jane@example.com>")

    out = capsys.readouterr().out
    support_request = SupportRequest.objects.get()
    assert support_request.requester_email == "jane@example.com"
    assert support_request.subject == "The printer jams on every page"
    assert f"{service}/api/v1/inbound/emails/: 200" in out
    assert f"created request #{support_request.pk}" in out
    assert f"/admin/requests_app/supportrequest/{support_request.pk}/change/" in out


def test_mail_files_are_posted_as_they_are_and_a_second_post_is_a_duplicate(
    service, tmp_path, capsys
):
    path = tmp_path / "printer.eml"
    path.write_bytes(make_mail(subject="Scanner is slow", message_id="<file-1@example.com>"))

    call_command("send_test_mail", str(path), "--url", service)
    call_command("send_test_mail", str(path), "--url", service)

    out = capsys.readouterr().out
    message = Message.objects.get(direction=Direction.INBOUND)
    assert message.subject == "Scanner is slow"
    assert f"{path}: created request #{message.request_id}" in out
    assert f"{path}: duplicate: already stored in request #{message.request_id}" in out


def test_a_wrong_secret_prints_the_services_answer_and_fails(service, capsys):
    with pytest.raises(CommandError, match="401"):
        call_command("send_test_mail", "--url", service, "--secret", "not-the-secret")

    assert not SupportRequest.objects.exists()


def test_without_a_secret_it_says_how_to_set_one(settings):
    settings.INBOUND_WEBHOOK_SECRET = ""

    with pytest.raises(CommandError, match="INBOUND_WEBHOOK_SECRET"):
        call_command("send_test_mail", "--url", "http://127.0.0.1:9")


def test_a_service_that_is_not_running_is_a_clear_error(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET

    with pytest.raises(CommandError, match="Is the service running"):
        call_command("send_test_mail", "--url", "http://127.0.0.1:9", "--timeout", "5")
