import ast
import gettext
from pathlib import Path

import pytest
from django.utils import translation

from messages_app.models import DeliveryStatus, Kind
from messages_app.outbound.notices import Notice, queue_notice, render_notice, with_token
from messages_app.tests.factories import InboundMessageFactory
from operators_app.tests.factories import OperatorFactory
from requests_app.services import close_request, take_request
from requests_app.tests.factories import SupportRequestFactory

pytestmark = pytest.mark.django_db

ENGLISH = {
    Notice.ACKNOWLEDGEMENT: ("We received your request", "An operator will take it into work"),
    Notice.TAKEN: ("Your request is in progress", "You will receive the answer by email"),
    Notice.CLOSED: ("Your request is closed", "your next email will open a new request"),
}
RUSSIAN = {
    Notice.ACKNOWLEDGEMENT: ("Мы получили ваш запрос", "Оператор скоро возьмёт его в работу"),  # noqa: RUF001
    Notice.TAKEN: ("Ваш запрос в работе", "Ответ придёт вам по почте"),
    Notice.CLOSED: ("Ваш запрос закрыт", "следующее письмо откроет новый запрос"),
}


@pytest.fixture
def support_request():
    return SupportRequestFactory(
        subject="Printer is broken",
        requester_name="Jane Doe",
        taken=True,
        operator=OperatorFactory(name="Alice"),
    )


# Subjects
# ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer", "Printer [#42]"),
        ("Re: Printer [#42]", "Re: Printer [#42]"),
        ("[#42] Re: [#42] Printer [#42]", "Re: Printer [#42]"),
        # Another request's token would route the answer there: only this one stays.
        ("Re: [#4] and [#421]", "Re: and [#42]"),
        ("Re: [#3] Printer", "Re: Printer [#42]"),
        ("", "[#42]"),
        ("Printer\r\nBcc: x@example.org", "Printer Bcc: x@example.org [#42]"),
    ],
)
def test_subject_carries_the_token_exactly_once(subject, expected):
    support_request = SupportRequestFactory.build(pk=42)

    assert with_token(subject, support_request) == expected


# Templates
# ------------------------------------------------------------------------------
@pytest.mark.parametrize("notice", list(Notice))
def test_english_notice_names_the_token_and_what_happens_next(support_request, notice):
    subject, body, html = render_notice(support_request=support_request, notice=notice)

    token = f"[#{support_request.pk}]"
    heading, next_step = ENGLISH[notice]
    assert subject == f"{heading}: Printer is broken {token}"
    assert subject.count(token) == 1
    assert body.startswith("Hello Jane Doe,\n")
    assert token in body
    assert next_step in body
    assert token in html
    assert next_step in html
    assert html.lstrip().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("notice", list(Notice))
def test_russian_notice_when_language_code_is_ru(settings, support_request, notice):
    settings.LANGUAGE_CODE = "ru"

    subject, body, html = render_notice(support_request=support_request, notice=notice)

    heading, next_step = RUSSIAN[notice]
    assert subject == f"{heading}: Printer is broken [#{support_request.pk}]"
    assert body.startswith("Здравствуйте, Jane Doe!\n")
    assert next_step in body
    assert next_step in html
    assert '<html lang="ru">' in html


def test_language_of_the_web_request_does_not_leak_into_notices(settings, support_request):
    settings.LANGUAGE_CODE = "en-us"

    with translation.override("ru"):
        subject, body, _ = render_notice(support_request=support_request, notice=Notice.CLOSED)

    assert subject.startswith("Your request is closed")
    assert "Здравствуйте" not in body


def test_taken_notice_names_the_operator(support_request):
    _, body, _ = render_notice(support_request=support_request, notice=Notice.TAKEN)

    assert "Alice is handling it." in body


def test_notice_without_name_or_subject_still_reads(settings):
    support_request = SupportRequestFactory(subject="", requester_name="")

    subject, body, _ = render_notice(support_request=support_request, notice=Notice.ACKNOWLEDGEMENT)

    assert subject == f"We received your request: (no subject) [#{support_request.pk}]"
    assert body.startswith("Hello,\n")
    assert '"(no subject)"' in body


def test_plain_text_is_not_html_escaped_and_html_is(support_request):
    support_request.subject = 'Tom & Jerry <script>alert("x")</script>'

    subject, body, html = render_notice(support_request=support_request, notice=Notice.CLOSED)

    assert 'Tom & Jerry <script>alert("x")</script>' in subject
    assert 'Tom & Jerry <script>alert("x")</script>' in body
    assert "<script>" not in html
    assert "Tom &amp; Jerry &lt;script&gt;" in html


def test_requester_name_with_line_breaks_is_flattened(support_request):
    support_request.requester_name = "Jane\r\nBcc: victim@example.org"

    _, body, _ = render_notice(support_request=support_request, notice=Notice.CLOSED)

    assert body.startswith("Hello Jane Bcc: victim@example.org,\n")


def test_templates_are_edited_without_code_changes(settings, tmp_path, support_request):
    override = tmp_path / "messages_app" / "notices"
    override.mkdir(parents=True)
    (override / "closed_subject.txt").write_text("All done: {{ subject }}")
    (override / "closed_body.txt").write_text("Bye {{ requester_name }}. {{ token }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]

    subject, body, _ = render_notice(support_request=support_request, notice=Notice.CLOSED)

    assert subject == f"All done: Printer is broken [#{support_request.pk}]"
    assert body == f"Bye Jane Doe. [#{support_request.pk}]\n"


# Queued notices
# ------------------------------------------------------------------------------
def test_notice_goes_out_marked_automatic_with_an_html_alternative(
    support_request, mailoutbox, django_capture_on_commit_callbacks
):
    InboundMessageFactory(request=support_request, rfc_message_id="<first@mail.example>")

    with django_capture_on_commit_callbacks(execute=True):
        message = queue_notice(support_request=support_request, notice=Notice.ACKNOWLEDGEMENT)

    message.refresh_from_db()
    assert message.kind == Kind.AUTO
    assert message.delivery_status == DeliveryStatus.SENT
    (email,) = mailoutbox
    assert email.to == [support_request.requester_email]
    assert email.from_email == "Service Desk <support@example.com>"
    assert email.extra_headers["Auto-Submitted"] == "auto-replied"
    assert email.extra_headers["X-Auto-Response-Suppress"] == "All"
    assert email.extra_headers["In-Reply-To"] == "<first@mail.example>"
    assert email.extra_headers["Message-ID"] == message.rfc_message_id
    assert email.alternatives[0].mimetype == "text/html"
    assert f"[#{support_request.pk}]" in email.alternatives[0].content


def test_take_and_close_each_mail_the_requester_once(
    mailoutbox, django_capture_on_commit_callbacks
):
    operator = OperatorFactory(name="Alice")
    support_request = SupportRequestFactory(subject="VPN")

    with django_capture_on_commit_callbacks(execute=True):
        take_request(request_id=support_request.pk, operator=operator)
    with django_capture_on_commit_callbacks(execute=True):
        take_request(request_id=support_request.pk, operator=operator)
    with django_capture_on_commit_callbacks(execute=True):
        close_request(request_id=support_request.pk, operator=operator)

    assert [email.subject for email in mailoutbox] == [
        f"Your request is in progress: VPN [#{support_request.pk}]",
        f"Your request is closed: VPN [#{support_request.pk}]",
    ]


def read_po(path) -> dict[str, str]:
    """msgid → msgstr of a .po file (enough of the format for our catalogue)."""
    entries, key, current = {}, None, {"msgid": "", "msgstr": ""}
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith(("msgid ", "msgstr ")):
            key, _, rest = line.partition(" ")
            current[key] = ast.literal_eval(rest)
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
        elif not line.strip() and key:
            entries[current["msgid"]] = current["msgstr"]
            key, current = None, {"msgid": "", "msgstr": ""}
    return entries


def test_compiled_russian_catalogue_matches_its_source():
    locale = Path(__file__).resolve().parents[1] / "locale" / "ru" / "LC_MESSAGES"
    source = {k: v for k, v in read_po(locale / "django.po").items() if k}
    with (locale / "django.mo").open("rb") as mo:
        compiled = {k: v for k, v in gettext.GNUTranslations(mo)._catalog.items() if k}

    assert compiled == source
    assert all(source.values()), "every message has a Russian translation"
