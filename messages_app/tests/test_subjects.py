"""Subjects do not pile up: prefixes, notice wording and old tokens go; one token stays."""

import pytest

from messages_app.models import Kind, Message
from messages_app.outbound.compose import post_reply
from messages_app.parsing.subjects import normalize_subject, reply_subject
from operators_app.tests.factories import OperatorFactory
from requests_app.models import Status
from requests_app.services import close_request
from requests_app.tests.factories import SupportRequestFactory


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer is broken", "Printer is broken"),
        ("Re: Your request is closed: Printer is broken [#1]", "Printer is broken"),
        (
            "We received your request: Re: Your request is closed: Printer is broken [#1] [#4]",
            "Printer is broken",
        ),
        ("RE: Fwd: FW: AW: WG: SV: Antw: Printer", "Printer"),
        ("Re[2]: Re(3): Re^4: Printer", "Printer"),
        ("Ответ: Отв: Пересл: Принтер сломался", "Принтер сломался"),
        ("Re: Ваш запрос закрыт: Принтер сломался [#9]", "Принтер сломался"),
        ("Мы получили ваш запрос: Принтер", "Принтер"),
        ("Re: Your request is in progress: Printer [#12]", "Printer"),
        ("Re: [#3] Printer", "Printer"),
        ("Re\uff1aPrinter", "Printer"),  # a full-width colon
        # Words that only look like a prefix stay.
        ("Regarding the printer", "Regarding the printer"),
        ("Refund: order 42", "Refund: order 42"),
        ("Printer: Re: toner", "Printer: Re: toner"),
        ("Re:", ""),
        ("", ""),
    ],
)
def test_normalize_subject(subject, expected):
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        pytest.param("Printer", "Re: Printer", id="adds-one-re"),
        pytest.param("Re: Printer", "Re: Printer", id="keeps-one-re"),
        pytest.param("Re: [#3] Printer", "Re: Printer", id="drops-the-token"),
        pytest.param("", "Re:", id="without-a-topic"),
    ],
)
def test_reply_subject(subject, expected):
    assert reply_subject(subject) == expected


@pytest.mark.django_db
def test_an_operator_reply_to_an_old_style_subject_has_one_re_and_one_token():
    support_request = SupportRequestFactory(subject="Re: [#3] Printer is broken")

    message = post_reply(
        request_id=support_request.pk, operator=OperatorFactory(), body="Fixed it."
    )

    assert message.subject == f"Re: Printer is broken [#{support_request.pk}]"


@pytest.mark.django_db
def test_the_closed_notice_names_the_topic_not_the_piled_up_subject():
    support_request = SupportRequestFactory(
        subject="Re: We received your request: Printer [#2]", status=Status.NEW
    )

    close_request(request_id=support_request.pk, operator=None, is_staff=True)

    notice = Message.objects.get(request=support_request, kind=Kind.AUTO)
    assert notice.subject == f"Your request is closed: Printer [#{support_request.pk}]"


def test_what_follows_a_notice_prefix_loses_its_spaces_and_colons():
    assert normalize_subject("Re: Your request is closed: :  Printer [#4]") == "Printer"
    assert normalize_subject("Re: Your request is closed:Printer") == "Printer"
