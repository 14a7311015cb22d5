# ruff: noqa: RUF001 (Cyrillic mail text is the point of these tests)
import base64
import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages_app.parsing.addresses import (
    InvalidAddressError,
    normalise_message_id,
    parse_address,
    parse_references,
)
from messages_app.parsing.classification import is_automatic
from messages_app.parsing.html import html_to_text, sanitise_html
from messages_app.parsing.mime import parse_field_email, parse_raw_email
from messages_app.parsing.replies import split_reply
from messages_app.parsing.text import (
    InvalidRawError,
    clean_text,
    decode_bytes,
    decode_raw,
    request_tokens,
)
from messages_app.tests.corpus import FIXTURES, fixture_bytes


def parse(name: str):
    return parse_raw_email(fixture_bytes(name))


# --- the corpus -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sender", "subject"),
    [
        (
            "gmail_reply.eml",
            "jane.doe@gmail.com",
            "Re: We received your request: Printer is broken [#17]",
        ),
        (
            "gmail_reply_ru.eml",
            "ivan.petrov@gmail.com",
            "Re: Мы получили ваше обращение: Не работает принтер [#23]",
        ),
        (
            "outlook_reply.eml",
            "mark.wilson@contoso.com",
            "RE: We received your request: VPN drops [#31]",
        ),
        (
            "outlook_reply_ru_cp1251.eml",
            "o.smirnova@contoso.ru",
            "RE: Мы получили ваше обращение: Нет доступа к папке [#42]",
        ),
        (
            "thunderbird_reply_ru_koi8r.eml",
            "kuznetsov@mail.example.org",
            "Re: Мы получили ваше обращение: Принтер [#57]",
        ),
        (
            "apple_mail_reply.eml",
            "tom.baker@icloud.com",
            "Re: We received your request: Badge access [#64]",
        ),
        (
            "apple_mail_reply_ru.eml",
            "anna.volkova@icloud.com",
            "Re: Мы получили ваше обращение: Пропуск [#65]",
        ),
        ("html_only.eml", "lena@example.org", "Calendar shows meetings twice"),
        (
            "windows1251_new_request.eml",
            "p.sidorov@example.ru",
            "Доступ к 1С для нового сотрудника",
        ),
        ("koi8r_base64.eml", "hr@example.ru", "Не приходит почта"),
        ("encoded_word_subject.eml", "zoe@example.se", "Café Wi-Fi не работает à l'étage"),
        ("new_request.eml", "jane@example.com", "Printer is broken"),
    ],
)
def test_corpus_sender_and_subject_are_decoded_and_normalised(name, sender, subject):
    email = parse(name)
    assert email.from_email == sender
    assert email.subject == subject
    assert email.sender_error == ""


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses_into_database_safe_text(name):
    email = parse(name)
    for value in (email.subject, email.body, email.reply, email.html, email.from_name):
        assert clean_text(value) == value
        assert "\x00" not in value


def test_display_names_are_decoded_from_encoded_words():
    assert parse("gmail_reply_ru.eml").from_name == "Иван Петров"
    assert parse("outlook_reply_ru_cp1251.eml").from_name == "Ольга Смирнова"
    assert parse("thunderbird_reply_ru_koi8r.eml").from_name == "Сергей Кузнецов"
    assert parse("encoded_word_subject.eml").from_name == "Zoë Ångström"
    assert parse("new_request.eml").from_name == "Doe, Jane"


def test_gmail_reply_separates_new_text_from_quoted_history():
    email = parse("gmail_reply.eml")
    assert email.reply == (
        "Hi,\n\nIt still jams on every page, even after the cleaning you suggested.\n"
        'The display says "Paper jam in tray 2".'
    )
    assert "On Mon, Nov 16, 2026 at 10:15 AM Service Desk" in email.body
    assert "> An operator will pick it up soon" in email.body
    assert "\r" not in email.body


def test_gmail_reply_keeps_its_thread_headers():
    email = parse("gmail_reply.eml")
    assert email.message_id == "<cah7qz1uvxt3kq9sa8jdg6sfq=ybk2cn0tw@mail.gmail.com>"
    assert email.in_reply_to == "<1763288100.4242.1234567890@example.com>"
    assert email.references == ["<1763288100.4242.1234567890@example.com>"]
    assert email.thread_ids == ["<1763288100.4242.1234567890@example.com>"]
    assert email.request_tokens == [17]
    assert email.date == datetime(2026, 11, 17, 9, 42, 3, tzinfo=UTC)


# Each client's reply is cut at its own quote header; the header stays in the full body.
CLIENT_REPLIES = [
    pytest.param(
        "gmail_reply_ru.eml",
        "Добрый день!\n\nПринтер по-прежнему не печатает, горит красная лампочка.\n"
        "Перезагрузка не помогла.",
        "пн, 16 нояб. 2026 г. в 12:15",
        id="gmail-russian-quote-header",
    ),
    pytest.param(
        "outlook_reply.eml",
        "Hello,\n\nThe VPN client keeps disconnecting every ten minutes since the update.\n"
        "Could someone call me at extension 4417?",
        "Sent: Monday, November 16, 2026 3:20 PM",
        id="outlook-original-message-block-and-signature",
    ),
    pytest.param(
        "outlook_reply_ru_cp1251.eml",
        "Здравствуйте!\n\nНе открывается общая папка \\\\fs01\\buh, пишет «Доступ запрещён».\n"
        "Со вчерашнего дня.",
        "Отправлено: 16 ноября 2026 г. 17:40",
        id="outlook-windows-1251-russian-header",
    ),
    pytest.param(
        "thunderbird_reply_ru_koi8r.eml",
        "Добрый вечер.\n\nНоутбук после обновления не видит принтер в сети.\n"
        "Модель HP LaserJet M404, IP 10.0.5.23.",
        "16.11.2026 18:02, Service Desk пишет:",
        id="thunderbird-8bit-koi8-r-pishet",
    ),
]


@pytest.mark.parametrize(("name", "reply", "quote_header"), CLIENT_REPLIES)
def test_client_reply_is_decoded_and_cut_at_its_quote_header(name, reply, quote_header):
    email = parse(name)
    assert email.reply == reply
    assert quote_header in email.body


def test_thunderbird_reply_keeps_its_user_agent_header():
    assert parse("thunderbird_reply_ru_koi8r.eml").headers["User-Agent"] == "Mozilla Thunderbird"


def test_apple_mail_replies_drop_the_quote_and_the_sent_from_line():
    assert parse("apple_mail_reply.eml").reply == (
        "The new badge works on the front door but not on the garage."
    )
    assert parse("apple_mail_reply_ru.eml").reply == (
        "Спасибо, пропуск заработал. Но теперь не открывается турникет на парковке."
    )


def test_html_only_mail_gets_its_text_from_the_html_and_keeps_only_sanitised_html():
    email = parse("html_only.eml")
    assert email.body.startswith("Hello support,\n\nThe shared calendar shows meetings twice &")
    assert "- Outlook 2021" in email.body
    assert "steal cookies" not in email.body
    assert "<script" not in email.html
    assert "onload" not in email.html
    assert "onerror" not in email.html
    assert "javascript:" not in email.html
    assert "Request" not in email.html.split("<p>")[0]
    assert "<b>shared calendar</b>" in email.html


def test_windows_1251_quoted_printable_body_is_decoded():
    email = parse("windows1251_new_request.eml")
    assert "Прошу выдать доступ к 1С:Бухгалтерия" in email.body
    assert email.from_name == "Пётр Сидоров"
    assert email.reply == email.body


def test_koi8_r_base64_multipart_alternative_prefers_the_plain_part():
    email = parse("koi8r_base64.eml")
    assert email.body.startswith("Здравствуйте.\n\nНе приходит почта")
    assert email.reply == "Здравствуйте.\n\nНе приходит почта на ящик отдела кадров с понедельника."
    assert (
        email.html
        == "<p>Здравствуйте.</p><p>Не приходит почта на ящик отдела кадров с понедельника.</p>"
    )


def test_attachments_are_listed_with_names_types_and_sizes():
    email = parse("attachments.eml")
    assert email.body == (
        "The scanner produces empty pages; the scan and a screenshot are attached."
    )
    listed = [
        (a.filename, a.content_type, a.size, a.inline, a.content_id, a.omitted)
        for a in email.attachments
    ]
    assert listed == [
        ("screenshot.png", "image/png", 70, True, "screenshot@example.com", None),
        ("invoice-2026-11.pdf", "application/pdf", 77, False, "", None),
        (
            "отчёт.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            14,
            False,
            "",
            None,
        ),
    ]
    assert email.attachments[1].data.startswith(b"%PDF-1.4")
    assert [len(a.data) for a in email.attachments] == [70, 77, 14]


@pytest.mark.parametrize(
    "name",
    [
        "outlook_out_of_office.eml",
        "gmail_vacation_auto_reply.eml",
        "mailing_list.eml",
        "noreply_notification.eml",
    ],
)
def test_automatic_mail_is_recognised_but_is_not_a_bounce(name):
    email = parse(name)
    assert email.is_automatic
    assert not email.is_bounce


@pytest.mark.parametrize(
    "name",
    [
        "gmail_reply.eml",
        "outlook_reply.eml",
        "apple_mail_reply_ru.eml",
        "thunderbird_reply_ru_koi8r.eml",
        "html_only.eml",
        "new_request.eml",
        "attachments.eml",
    ],
)
def test_mail_people_wrote_is_not_automatic(name):
    email = parse(name)
    assert not email.is_automatic
    assert not email.is_bounce


def test_outlook_out_of_office_keeps_its_markers_in_the_headers():
    email = parse("outlook_out_of_office.eml")
    assert email.headers["Auto-Submitted"] == "auto-generated"
    assert email.headers["X-Auto-Response-Suppress"] == "All"


def test_dsn_bounce_is_a_bounce():
    email = parse("dsn_bounce.eml")
    assert email.is_bounce
    assert email.is_automatic
    assert email.from_email == "mailer-daemon@mx.example.net"


def test_malformed_headers_degrade_instead_of_failing():
    email = parse("malformed_headers.eml")
    assert email.from_email == "broken.sender@example.com"
    assert email.date is None
    assert email.message_id == "<malformed-0001@example.com>"
    assert email.in_reply_to == ""
    assert email.references == ["<a@b>", "<c@d>"]
    assert email.body == (
        "The body survives — even with a broken soft line break and a stray =ZZ sequence."
    )
    assert "Strange subject" in email.subject


def test_mail_without_a_sender_says_why():
    email = parse("no_sender.eml")
    assert email.from_email == ""
    assert email.sender_error == "The message has no usable sender address."


def test_own_mail_is_read_with_the_support_address():
    assert parse("own_mail_loop.eml").from_email == "support@example.com"


# --- small functions ---------------------------------------------------------------


def test_decode_raw_accepts_standard_and_url_safe_base64_with_or_without_padding():
    data = b"Subject: \xff\xfe?>\r\n\r\nbody"
    standard = base64.b64encode(data).decode()
    url_safe = base64.urlsafe_b64encode(data).decode()
    assert "+" in standard or "/" in standard
    assert decode_raw(standard) == data
    assert decode_raw(url_safe) == data
    assert decode_raw(url_safe.rstrip("=")) == data
    assert decode_raw("\n".join([standard[:10], standard[10:]])) == data


@pytest.mark.parametrize("value", ["", "   ", "not base64!", "QUJD$", "IA=="])
def test_decode_raw_refuses_what_is_not_base64_of_a_message(value):
    with pytest.raises(InvalidRawError):
        decode_raw(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<ABC@Example.COM>", "<abc@example.com>"),
        ("  <abc@example.com>  (comment)", "<abc@example.com>"),
        ("abc@example.com", "<abc@example.com>"),
        ("<abc@example.com> <def@example.com>", "<abc@example.com>"),
        ("not a message id", ""),
        ("", ""),
        ("<" + "a" * 400 + "@example.com>", "<" + "a" * 253 + ">"),
    ],
)
def test_normalise_message_id(value, expected):
    assert normalise_message_id(value) == expected


def test_parse_references_keeps_order_and_drops_repeats():
    assert parse_references("<a@x>\r\n <B@x> <a@x>") == ["<a@x>", "<b@x>"]
    assert parse_references("a@x, b@x") == ["<a@x>", "<b@x>"]
    assert parse_references("") == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@example.com", ("", "jane@example.com")),
        ("Jane Doe <Jane.Doe@Example.COM>", ("Jane Doe", "jane.doe@example.com")),
        ('"Doe, Jane" <jane@example.com>', ("Doe, Jane", "jane@example.com")),
        ("=?utf-8?b?0JjQstCw0L0=?= <ivan@example.ru>", ("Иван", "ivan@example.ru")),
        ("jane@example.com (Jane)", ("Jane", "jane@example.com")),
    ],
)
def test_parse_address_normalises_the_address_and_keeps_the_display_name(value, expected):
    assert parse_address(value) == expected


@pytest.mark.parametrize(
    "value", ["", "jane", "jane@", "@example.com", "Jane <>", "jane@@example.com", "a b@c d"]
)
def test_parse_address_refuses_unusable_addresses(value):
    with pytest.raises(InvalidAddressError):
        parse_address(value)


def test_request_tokens_are_read_from_the_subject():
    assert request_tokens("Re: Printer [#17] and [#4]") == [17, 4]
    assert request_tokens("No token [17] [#x]") == []


def test_split_reply_keeps_mail_without_quotes_whole():
    text = "Line one.\n\n- first item\n- second item\n\nLine three."
    assert split_reply(text) == text


@pytest.mark.parametrize(
    "header",
    [
        '20.11.2026, 10:15, "Jane Doe" <jane@example.com>:',
        "20 нояб. 2026 г., в 10:15, Jane <jane@example.com> написал(а):",
        "Пятница, 20 ноября 2026, 10:15 +03:00 от Jane <jane@example.com>:\nпишет:",
        "-----Исходное сообщение-----",
        "-------- Пересылаемое сообщение --------",
        "От: Jane <jane@example.com>\nДата: 20 ноября 2026\nТема: принтер",
        "On Fri, 20 Nov 2026 at 10:15, Jane <jane@example.com> wrote:",
    ],
)
def test_split_reply_recognises_quote_headers(header):
    text = f"Новый текст.\n\n{header}\n> старое письмо\n> ещё строка\n"
    reply = split_reply(text)
    assert reply.startswith("Новый текст.")
    assert "старое письмо" not in reply


def test_split_reply_cuts_a_trailing_quote_block_without_header():
    assert split_reply("Answer.\n\n> question?\n> more\n") == "Answer."


def test_split_reply_returns_the_whole_text_when_everything_is_quoted():
    text = "> only quoted\n> lines"
    assert split_reply(text) == text


def test_html_to_text_marks_blockquotes_and_skips_scripts():
    text = html_to_text(
        "<p>New</p><script>x()</script><blockquote><p>Old line</p></blockquote><p>a&amp;b</p>"
    )
    assert text == "New\n\n> Old line\n\na&b"


def test_sanitise_html_keeps_markup_and_removes_active_content():
    html = sanitise_html(
        '<p onclick="x()">Hi <a href="javascript:evil()">x</a></p><style>p{}</style>'
    )
    assert html == '<p>Hi <a rel="noopener noreferrer">x</a></p>'


def test_decode_bytes_falls_back_for_unknown_and_undeclared_charsets():
    assert decode_bytes("привет".encode("koi8-r"), "KOI8-R") == "привет"
    assert decode_bytes("привет".encode("cp1251"), "win-1251") == "привет"
    assert decode_bytes("привет".encode(), "no-such-charset") == "привет"
    assert decode_bytes("Привет, как дела".encode("cp1251"), None) == "Привет, как дела"
    assert decode_bytes(b"caf\xe9", None) == "café"


@pytest.mark.parametrize(
    ("headers", "sender", "subject"),
    [
        ({"Auto-Submitted": "auto-replied"}, "jane@example.com", ""),
        ({"auto-submitted": "auto-generated"}, "jane@example.com", ""),
        ({"Precedence": "bulk"}, "jane@example.com", ""),
        ({"Precedence": "junk"}, "jane@example.com", ""),
        ({"Precedence": "list"}, "jane@example.com", ""),
        ({"X-Auto-Response-Suppress": "All"}, "jane@example.com", ""),
        ({"List-Id": "<team.lists.example.com>"}, "jane@example.com", ""),
        ({"X-Autoreply": "yes"}, "jane@example.com", ""),
        ({"X-Autorespond": "yes"}, "jane@example.com", ""),
        ({}, "no-reply@example.com", ""),
        ({}, "noreply+bounces@example.com", ""),
        ({}, "do-not-reply@example.com", ""),
        ({}, "mailer-daemon@example.com", ""),
        ({}, "jane@example.com", "Automatic reply: VPN drops"),
        ({}, "jane@example.com", "Out of Office: back on Monday"),
        ({}, "jane@example.com", "Автоматический ответ: Принтер"),
    ],
)
def test_is_automatic_recognises_autoresponders(headers, sender, subject):
    assert is_automatic(headers=headers, sender=sender, subject=subject)


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"Auto-Submitted": "no"}, "Printer"),
        ({"Precedence": "first-class"}, "Printer"),
        ({}, "Re: Out of paper again"),
    ],
)
def test_is_automatic_leaves_mail_people_wrote(headers, subject):
    assert not is_automatic(headers=headers, sender="jane@example.com", subject=subject)


@pytest.mark.parametrize(
    ("sender", "headers", "is_bounce"),
    [
        ("Jane <JANE@example.com>", {"auto-submitted": "auto-replied"}, False),
        ("postmaster@example.net", {"X-Failed-Recipients": "nobody@example.net"}, True),
        (
            "daemon@mx.example.net",
            {"content-type": 'multipart/report; report-type="delivery-status"; boundary=x'},
            True,
        ),
    ],
)
def test_field_form_classifies_from_the_given_headers(sender, headers, is_bounce):
    # No title: "Out of office" or "Undeliverable" would classify the mail by themselves.
    email = parse_field_email(user_email=sender, headers=headers)
    assert email.is_automatic
    assert email.is_bounce is is_bounce


def test_field_form_decodes_its_title_and_derives_the_text_from_html():
    email = parse_field_email(
        user_email="jane@example.com",
        title="=?utf-8?q?Caf=C3=A9?=",
        html="<p>From HTML</p><script>x()</script>",
    )
    assert email.subject == "Café"
    assert email.body == "From HTML"
    assert email.html == "<p>From HTML</p>"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("message_id", "ABC@example.com", "<abc@example.com>"),
        ("in_reply_to", "<Parent@example.com>", "<parent@example.com>"),
        (
            "references",
            "<root@example.com> <Parent@example.com>",
            ["<root@example.com>", "<parent@example.com>"],
        ),
    ],
)
def test_field_form_normalises_thread_headers(field, value, expected):
    email = parse_field_email(user_email="jane@example.com", **{field: value})
    assert getattr(email, field) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fri, 20 Nov 2026 13:15:00 +0300", datetime(2026, 11, 20, 10, 15, tzinfo=UTC)),
        ("2026-11-20T10:15:00+00:00", datetime(2026, 11, 20, 10, 15, tzinfo=UTC)),
        ("2026-11-20T10:15:00Z", datetime(2026, 11, 20, 10, 15, tzinfo=UTC)),
        ("2026-11-20 10:15", datetime(2026, 11, 20, 10, 15, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_field_form_dates(value, expected):
    assert parse_field_email(user_email="jane@example.com", date=value).date == expected


def test_field_form_truncates_over_long_values_to_their_columns():
    email = parse_field_email(
        user_email=f"{'N' * 300} <jane@example.com>", title="S" * 900, message_id="<" + "m" * 300
    )
    assert len(email.subject) == 500
    assert len(email.from_name) == 200
    assert len(email.message_id) <= 255


# --- properties --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_decode_raw_and_parse_address_raise_only_their_own_errors(text):
    with contextlib.suppress(InvalidRawError):
        decode_raw(text)
    with contextlib.suppress(InvalidAddressError):
        parse_field_email(user_email=text, title=text, description=text, date=text)
