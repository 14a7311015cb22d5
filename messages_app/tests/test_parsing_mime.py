"""Exact outcomes of the MIME walk, the field form and the small readers beside them.

Each test states what a stored mail holds for one shape of input, to the character: the
mutation run (pyproject's [tool.mutmut]) counts on these to notice a changed constant,
name or condition.
"""

import base64
from email.message import EmailMessage

import pytest

from messages_app.parsing import html_quotes, parts
from messages_app.parsing.addresses import (
    CONTENT_ID_DOMAIN,
    content_message_id,
    is_content_message_id,
)
from messages_app.parsing.html import html_to_text, rewrite_cid_urls, sanitise_html
from messages_app.parsing.mime import (
    ATTACHED_MESSAGE_SEPARATOR,
    ParsedEmail,
    parse_field_email,
    parse_raw_email,
)
from messages_app.parsing.mime import parse_raw_email_or_raise as parse
from messages_app.parsing.text import (
    InvalidRawError,
    clean_filename,
    clean_header_value,
    clean_json,
    decode_raw,
    request_tokens,
)


def mail(body: str = "Hello.", subject: str = "Files") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Jane <jane@example.com>"
    message["To"] = "support@example.com"
    message["Date"] = "Mon, 16 Nov 2026 10:15:00 +0000"
    message["Subject"] = subject
    message.set_content(body)
    return message


# --- decode_raw ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("QUJD", b"ABC"),
        ("QUJDRA", b"ABCD"),
        ("QUJDRA=", b"ABCD"),
        ("QUJDRA===", b"ABCD"),
        ("QUJD==", b"ABC"),
        ("QUI", b"AB"),
        ("QUJD\r\nRA==\n", b"ABCD"),
        ("--8=", b"\xfb\xef"),
        ("__8=", b"\xff\xff"),
        ("-_8", b"\xfb\xff"),
    ],
)
def test_decode_raw_reads_padding_and_alphabets(value, expected):
    assert decode_raw(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("QUJDR", "This is not valid base64."),
        ("QUJ$", "This is not valid base64."),
        ("QUJDé", "This is not valid base64."),
        ("", "The message is empty."),
        ("===", "The message is empty."),
        ("IA==", "The message is empty."),
        (" \n ", "The message is empty."),
    ],
)
def test_decode_raw_says_why_it_refuses(value, message):
    with pytest.raises(InvalidRawError) as error:
        decode_raw(value)
    assert str(error.value) == message


# --- small readers ---------------------------------------------------------------------


def test_request_tokens_are_every_bracketed_number_in_order():
    assert request_tokens("Re: [#12] and [#7] not [#x] nor [# 3] [#1234567890123456789]") == [
        12,
        7,
    ]
    assert request_tokens("") == []
    assert request_tokens(None) == []


def test_clean_json_cleans_every_string_and_cuts_keys_and_values():
    value = {"k\x00" + "k" * 300: ["a\x01b", ("c",), 3, None, {"n": "x" * 3000}]}
    cleaned = clean_json(value)
    (key,) = cleaned
    assert key == "k" * 200
    assert cleaned[key][:4] == ["ab", ["c"], 3, None]
    assert cleaned[key][4] == {"n": "x" * 2000}


def test_content_message_id_is_stable_and_names_its_domain():
    fields = {"user_email": "jane@example.com", "title": "Printer", "description": "Jammed."}
    first = content_message_id(fields)
    assert first == content_message_id(dict(fields))
    assert first.startswith("<")
    assert first.endswith(f"@{CONTENT_ID_DOMAIN}>")
    assert len(first) == len(f"<@{CONTENT_ID_DOMAIN}>") + 40
    for name in ("user_email", "title", "description", "date", "in_reply_to", "references"):
        assert content_message_id({**fields, name: "other"}) != first, name
    assert content_message_id({**fields, "html": "<p>x</p>"}) != first
    assert content_message_id({**fields, "unrelated": "x"}) == first
    assert content_message_id({**fields, "date": None}) == content_message_id(fields)
    assert is_content_message_id(first)
    assert is_content_message_id(first[:-1])
    assert not is_content_message_id("<abc@example.com>")
    assert not is_content_message_id(f"<abc@x{CONTENT_ID_DOMAIN}>")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\jane\\report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("  .hidden. ", "hidden"),
        ("a\u202etxt.exe", "atxt.exe"),
        ("=?utf-8?b?0L7RgtGH0ZHRgi5wZGY=?=", "отчёт.pdf"),
        ("", "attachment"),
        ("...", "attachment"),
        ("n" * 300 + ".pdf", "n" * 251 + ".pdf"),
        ("n" * 300, "n" * 255),
        ("n" * 300 + "." + "e" * 17, ("n" * 300 + "." + "e" * 17)[:255]),
    ],
)
def test_clean_filename(value, expected):
    assert clean_filename(value) == expected


def test_clean_filename_default_is_the_callers():
    assert clean_filename("", default="attachment-3.txt") == "attachment-3.txt"


# --- HTML ------------------------------------------------------------------------------


def test_html_to_text_keeps_lines_paragraphs_lists_and_quotes():
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<p>First  paragraph</p><div>Line one</div><div>Line two<br>after break</div>"
        "<ul><li>item a</li><li>item b</li></ul>"
        "<pre>  keep   spaces\n  here</pre>"
        "<blockquote>quoted<blockquote>deeper</blockquote>back</blockquote>"
        "<script>alert(1)</script><p>End &amp; done</p></body></html>"
    )
    assert html_to_text(html) == (
        "First paragraph\n\nLine one\nLine two\nafter break\n\n- item a\n- item b\n\n"
        "  keep   spaces\n  here\n\n> quoted\n\n> > deeper\n\n> back\n\nEnd & done"
    )


def test_html_to_text_quotes_an_attribution_but_not_a_forward_marker():
    quoted = (
        '<div>Thanks!</div><div class="gmail_quote"><div class="gmail_attr">On Mon, Jane'
        " wrote:</div><blockquote>old</blockquote></div>"
    )
    assert html_to_text(quoted) == "Thanks!\n> On Mon, Jane wrote:\n\n> old"
    forward = (
        '<div>FYI</div><div class="gmail_attr">---------- Forwarded message ---------</div>'
        "<div>From: Bob</div>"
    )
    assert html_to_text(forward) == "FYI\n---------- Forwarded message ---------\nFrom: Bob"


def test_html_to_text_quotes_everything_after_an_outlook_reply_header():
    html = '<p>New words</p><div id="divRplyFwdMsg"><b>From:</b> Bob</div><p>Old words</p>'
    assert html_to_text(html) == "New words\n\n> From: Bob\n\n> Old words"


def test_html_to_text_falls_back_to_the_words_on_a_declaration_it_refuses():
    assert html_to_text("<p>Hi</p><![1]>x &amp; y") == "Hi x & y"
    assert html_to_text("") == ""


def test_too_deep_html_keeps_its_words_and_no_sanitised_copy():
    html = "<div>" * 1001 + "deep &lt;text&gt;" + "</div>" * 1001
    assert html_to_text(html) == "deep <text>"
    assert sanitise_html(html) == ""


def test_sanitise_html_removes_scripts_and_handlers_and_keeps_cid_images():
    html = (
        '<p onclick="x()">Hi<script>evil()</script></p><img src="cid:logo@x">'
        '<a href="javascript:x">l</a>'
    )
    assert (
        sanitise_html(html) == '<p>Hi</p><img src="cid:logo@x"><a rel="noopener noreferrer">l</a>'
    )
    assert sanitise_html("  ") == ""
    assert sanitise_html("") == ""


def test_rewrite_cid_urls_points_inline_parts_at_their_urls():
    html = '<img src="cid:Logo%40x"> <a href="cid:other@x">o</a> <img src="cid:gone@x">'
    urls = {"logo@x": "/files/1", "OTHER@x": "/files/2"}
    assert rewrite_cid_urls(html, urls) == (
        '<img src="/files/1"> <a href="/files/2">o</a> <img src="cid:gone@x">'
    )
    assert rewrite_cid_urls(html, {}) == html
    assert rewrite_cid_urls("<p>no images</p>", urls) == "<p>no images</p>"


# --- the MIME walk ---------------------------------------------------------------------


def test_an_attached_message_gives_its_headers_and_text_to_the_body():
    inner = mail("The original text.", subject="VPN down")
    inner["Cc"] = "cc@example.com"
    inner.add_attachment(b"x", "application", "octet-stream", filename="inner.bin")
    outer = mail("See below.")
    outer.add_attachment(inner)
    email = parse(bytes(outer))
    assert email.body == (
        f"See below.\n\n{ATTACHED_MESSAGE_SEPARATOR}\nFrom: Jane <jane@example.com>\n"
        "Date: Mon, 16 Nov 2026 10:15:00 +0000\nSubject: VPN down\nTo: support@example.com"
        "\n\nThe original text."
    )
    assert email.reply == "See below."
    (attachment,) = email.attachments
    assert attachment.filename == "VPN down.eml"
    assert attachment.data.startswith(b"From: Jane <jane@example.com>")
    assert b"inner.bin" in attachment.data


def test_an_attached_html_only_message_gives_the_text_of_its_html():
    inner = EmailMessage()
    inner["Subject"] = "Only HTML"
    inner.set_content("<p>Hello <b>there</b></p>", subtype="html")
    outer = mail("Forwarding.")
    outer.add_attachment(inner)
    email = parse(bytes(outer))
    assert email.body.endswith(f"{ATTACHED_MESSAGE_SEPARATOR}\nSubject: Only HTML\n\nHello there")


def test_an_attached_message_with_text_and_html_gives_its_text_part():
    inner = mail("Plain words.", subject="Both")
    inner.add_alternative("<p>HTML words</p>", subtype="html")
    outer = mail("Fwd.")
    outer.add_attachment(inner)
    assert parse(bytes(outer)).body.endswith("\n\nPlain words.")


def test_an_attached_message_without_headers_or_text_is_its_separator_only():
    outer = mail("Fwd.")
    outer.add_attachment(EmailMessage())
    email = parse(bytes(outer))
    assert email.body == f"Fwd.\n\n{ATTACHED_MESSAGE_SEPARATOR}\n"[:-1]
    assert email.attachments[0].filename == "attachment-1.eml"


def test_base64_files_are_decoded_whatever_the_case_of_the_encoding():
    data = bytes(range(256)) * 4
    encoded = base64.encodebytes(data).decode()
    raw = (
        "From: jane@example.com\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        "Content-Type: text/plain\r\n\r\nBody\r\n--B\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n"
        f'Content-Disposition: attachment; filename="a.bin"\r\n\r\n{encoded}\r\n--B--\r\n'
    )
    (attachment,) = parse(raw.encode()).attachments
    assert attachment.data == data
    assert attachment.size == 1024


def test_a_file_in_8bit_or_quoted_printable_keeps_its_bytes():
    raw = (
        b"From: jane@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: text/plain\r\n\r\nBody\r\n--B\r\n"
        b"Content-Type: application/x-raw\r\nContent-Transfer-Encoding: 8bit\r\n"
        b'Content-Disposition: attachment; filename="r.bin"\r\n\r\n\xd0\xb9 raw\r\n--B\r\n'
        b"Content-Type: application/x-qp\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        b'Content-Disposition: attachment; filename="q.bin"\r\n\r\na=3Db\r\n--B--\r\n'
    )
    raw_file, qp_file = parse(raw).attachments
    assert raw_file.data == "й raw".encode()
    assert qp_file.data == b"a=b"


def test_a_delivery_status_part_is_kept_as_its_body_text():
    raw = (
        b"From: MAILER-DAEMON@example.com\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n--B\r\n"
        b"Content-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; x@y\r\n"
        b"Action: failed\r\n--B--\r\n"
    )
    email = parse(raw)
    assert email.is_bounce
    assert email.is_automatic
    assert email.body == f"It failed.\n\n{ATTACHED_MESSAGE_SEPARATOR}"
    (status,) = email.attachments
    assert (status.content_type, status.filename) == ("message/delivery-status", "attachment-1.bin")
    # Written back out by the generator: its line ends are "\n".
    assert status.data == (
        b"Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; x@y\nAction: failed\n"
    )


BROKEN_MIXED = (
    b"From: jane@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
)


@pytest.mark.parametrize(
    ("content", "body"),
    [
        pytest.param(
            b"--XYZ\r\nContent-Type: text/plain\r\n\r\nFirst part.\r\n"
            b"--XYZ\r\nContent-Type: text/plain\r\n\r\nSecond part.\r\n--XYZ--\r\n",
            "First part.\n\nSecond part.",
            id="read-with-the-boundary-its-lines-use",
        ),
        pytest.param(
            b"--ONCE\r\nonly one delimiter line\r\n",
            "--ONCE\nonly one delimiter line",
            id="boundary-cannot-be-guessed-kept-as-text",
        ),
        pytest.param(
            b'--"Q"\r\nonly one delimiter line\r\n--"Q"--\r\n',
            '--"Q"\nonly one delimiter line\n--"Q"--',
            id="quoted-boundary-cannot-be-guessed-kept-as-text",
        ),
        pytest.param(
            b"\xd0\xb9 text without parts\r\n",
            "й text without parts",
            id="undeclared-eight-bit-text-kept",
        ),
    ],
)
def test_a_multipart_without_a_boundary_parameter(content, body):
    assert parse(BROKEN_MIXED + content).body == body


def test_parts_name_their_content_id_and_a_default_file_name():
    part = EmailMessage()
    part["Content-ID"] = "  <Logo@Example>  "
    assert parts.content_id(part) == "Logo@Example"
    part.replace_header("Content-ID", "<" + "c" * 600 + ">")
    assert parts.content_id(part) == "c" * 255
    assert parts.content_id(EmailMessage()) == ""
    assert parts.default_filename("message/rfc822", 2) == "attachment-2.eml"
    assert parts.default_filename("message/global", 1) == "attachment-1.eml"
    assert parts.default_filename("text/plain", 3) == "attachment-3.txt"
    assert parts.default_filename("text/html", 4) == "attachment-4.html"
    assert parts.default_filename("image/jpeg", 5) == "attachment-5.jpg"
    assert parts.default_filename("application/pdf", 6) == "attachment-6.pdf"
    assert parts.default_filename("x/unknown", 7) == "attachment-7.bin"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"From: jane@example.com\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
            b"Content-Type: text/plain\r\n\r\nBody\r\n--B\r\n"
            b'Content-Type: application/pdf; name="by-type.pdf"\r\n\r\n%PDF\r\n--B--\r\n',
            {"filename": "by-type.pdf", "inline": False},
            id="file-name-from-the-content-type-when-the-disposition-has-none",
        ),
        pytest.param(
            b"From: jane@example.com\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/related; boundary="B"\r\n\r\n--B\r\n'
            b'Content-Type: text/html\r\n\r\n<p><img src="cid:shown@x"></p>\r\n--B\r\n'
            b"Content-Type: image/png\r\nContent-ID: <hidden@x>\r\n"
            b"Content-Disposition: attachment\r\n\r\nPNG\r\n--B--\r\n",
            {"content_id": "hidden@x", "inline": False},
            id="unreferenced-attached-image-with-a-content-id-is-not-inline",
        ),
    ],
)
def test_the_one_attachment_of_a_multipart(raw, expected):
    (attachment,) = parse(raw).attachments
    assert {key: getattr(attachment, key) for key in expected} == expected


def test_a_part_with_a_content_id_and_no_disposition_is_inline():
    raw = (
        b"From: jane@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/related; boundary="B"\r\n\r\n--B\r\n'
        b'Content-Type: text/html\r\n\r\n<p>Logo <img src="cid:LOGO@x"></p>\r\n--B\r\n'
        b"Content-Type: image/png\r\nContent-ID: <logo@x>\r\n"
        b"Content-Disposition: attachment\r\n\r\nPNG\r\n--B\r\n"
        b"Content-Type: image/gif\r\nContent-ID: <other@x>\r\n\r\nGIF\r\n--B\r\n"
        b"Content-Type: image/gif\r\nContent-Disposition: inline\r\n\r\nGIF\r\n--B\r\n"
        b"Content-Type: image/gif\r\n\r\nGIF\r\n--B--\r\n"
    )
    email = parse(raw)
    assert [(a.content_id, a.inline) for a in email.attachments] == [
        ("logo@x", True),
        ("other@x", True),
        ("", True),
        ("", False),
    ]
    assert email.body == "Logo"
    assert email.html == '<p>Logo <img src="cid:LOGO@x"></p>'


def test_text_files_become_the_body_only_when_there_is_no_other_text():
    message = EmailMessage()
    message["From"] = "jane@example.com"
    message.add_attachment("Only in a file.", filename="note.txt")
    message.add_attachment("Second file.", filename="more.txt")
    email = parse(bytes(message))
    assert email.body == "Only in a file.\n\nSecond file."
    assert [a.filename for a in email.attachments] == ["note.txt", "more.txt"]
    message.add_attachment("<p>x</p>", subtype="html", filename="page.html")
    assert parse(bytes(message)).body == "Only in a file.\n\nSecond file."


def test_attachments_past_the_limits_are_listed_without_their_bytes():
    message = mail("Body.")
    for number in range(4):
        message.add_attachment(b"x" * (10 + number), "application", "octet-stream")
    email = parse(bytes(message), max_attachment_bytes=12, max_attachments=2)
    assert [(a.size, a.omitted, a.data) for a in email.attachments] == [
        (10, None, b"x" * 10),
        (11, None, b"x" * 11),
        (12, "too_many", None),
        (13, "too_large", None),
    ]
    assert [a.filename for a in email.attachments] == [
        "attachment-1.bin",
        "attachment-2.bin",
        "attachment-3.bin",
        "attachment-4.bin",
    ]


# --- the field form --------------------------------------------------------------------


def test_field_form_reads_every_field():
    email = parse_field_email(
        user_email="Jane Doe <Jane@Example.com>",
        title="=?utf-8?q?caf=C3=A9?=  [#5]",
        description="Line one\r\nLine two\r\n",
        message_id="<ID@x>",
        in_reply_to="<Parent@x>",
        references="<Root@x> <Parent@x>",
        date="2026-11-16T10:15:00z",
        html="<p>Line one</p>",
        headers={"Auto-Submitted": "auto-replied", "X\x00Key": " a\r\n b "},
        attachments_omitted=[
            {"filename": "big.pdf", "content_type": "Application/PDF", "size": 3},
            {"size": -5},
            {},
        ],
    )
    assert (email.from_name, email.from_email) == ("Jane Doe", "jane@example.com")
    assert email.subject == "café [#5]"
    assert email.request_tokens == [5]
    assert email.body == "Line one\nLine two"
    assert email.html == "<p>Line one</p>"
    assert (email.message_id, email.in_reply_to) == ("<id@x>", "<parent@x>")
    assert email.references == ["<root@x>", "<parent@x>"]
    assert email.thread_ids == ["<parent@x>", "<root@x>"]
    assert email.date.isoformat() == "2026-11-16T10:15:00+00:00"
    assert email.headers == {"Auto-Submitted": "auto-replied", "XKey": "a b"}
    assert email.is_automatic
    assert not email.is_bounce
    assert [(a.filename, a.content_type, a.size, a.omitted) for a in email.attachments] == [
        ("big.pdf", "application/pdf", 3, "not_forwarded"),
        ("attachment-2", "application/octet-stream", 0, "not_forwarded"),
        ("attachment-3", "application/octet-stream", 0, "not_forwarded"),
    ]


def test_field_form_without_text_reads_its_html_and_a_report_content_type():
    email = parse_field_email(
        user_email="mailer-daemon@example.com",
        html="<p>Hello</p>",
        headers={"content-type": 'Multipart/Report; report-type="delivery-status"; b=1'},
    )
    assert email.body == "Hello"
    assert email.is_bounce
    assert email.is_automatic
    assert parse_field_email(user_email="jane@example.com").thread_ids == []


def test_field_form_keeps_at_most_a_thousand_omitted_files():
    email = parse_field_email(user_email="jane@example.com", attachments_omitted=[{}] * 1001)
    assert len(email.attachments) == 1000
    assert email.attachments[-1].filename == "attachment-1000"


def test_html_to_text_collapses_runs_of_blank_lines():
    assert html_to_text("a<br><br><br><br><br>b") == "a\n\nb"


@pytest.mark.parametrize(
    ("tag", "attrs", "expected"),
    [
        ("div", [("class", "gmail_attr x")], html_quotes.ATTRIBUTION),
        ("div", [("class", "moz-cite-prefix")], html_quotes.ATTRIBUTION),
        ("span", [("class", "gmail_attr")], None),
        ("span", [("id", "divRplyFwdMsg")], html_quotes.REST),
        ("hr", [("ID", "stopSpelling")], html_quotes.REST),
        ("hr", [("class", "a OutlookMessageHeader")], html_quotes.REST),
        ("div", [("id", "appendonsend")], html_quotes.REST),
        ("p", [("id", "divRplyFwdMsg")], None),
        ("div", [("id", None), ("class", None)], None),
    ],
)
def test_quote_containers_are_known_by_tag_id_and_class(tag, attrs, expected):
    assert html_quotes.quote_container(tag, attrs) == expected


# --- raw mail, field by field ------------------------------------------------------


def test_raw_mail_reads_its_thread_headers_and_subject():
    raw = (
        b"From: jane@example.com\r\nSubject: \xd0\xb9 caf\xc3\xa9\r\n"
        b"Message-ID: <ID@x>\r\nIn-Reply-To: <Parent@x>\r\nReferences: <Root@x>\r\n <Parent@x>\r\n"
        b"\r\nbody"
    )
    email = parse(raw)
    assert email.subject == "й café"
    assert (email.message_id, email.in_reply_to) == ("<id@x>", "<parent@x>")
    assert email.references == ["<root@x>", "<parent@x>"]
    bare = parse(b"From: jane@example.com\r\n\r\nbody")
    assert (bare.subject, bare.message_id, bare.in_reply_to, bare.references) == ("", "", "", [])
    assert bare.headers == {}


def test_a_subject_too_long_to_decode_whole_is_read_from_its_head():
    subject = "=?utf-8?q?caf=C3=A9?= " * 730
    email = parse(f"From: jane@example.com\r\nSubject: {subject}\r\n\r\nx".encode())
    assert email.subject == "café" * 125
    plain = "word " * 4000
    # Cut to its column after the spaces are collapsed: it may end in one.
    assert parse(f"From: j@x.org\r\nSubject: {plain}\r\n\r\nx".encode()).subject == plain[:500]


def test_line_ends_of_the_body_become_newlines():
    assert parse(b"From: a@example.com\r\n\r\na\rb\r\nc").body == "a\nb\nc"


def test_second_text_part_keeps_its_indentation():
    message = mail("first")
    message.make_mixed()
    part = EmailMessage()
    part.set_content("    indented second\n", disposition="inline")
    message.attach(part)
    assert parse(bytes(message)).body == "first\n\n    indented second"


def test_a_multipart_report_of_delivery_status_is_a_bounce_whoever_sends_it():
    def report(content_type: str) -> bytes:
        return (
            "From: reports@example.com\r\nSubject: Report\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: {content_type}; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nReport.\r\n--B--\r\n"
        ).encode()

    assert parse(report("multipart/report; report-type=delivery-status")).is_bounce
    assert parse(report("multipart/report; report-type=Delivery-Status")).is_bounce
    assert not parse(report("multipart/report; report-type=disposition-notification")).is_bounce
    assert not parse(report("multipart/report")).is_bounce
    assert not parse(report("multipart/mixed; report-type=delivery-status")).is_bounce


def test_the_sender_is_read_from_sender_when_from_has_no_address():
    raw = b"From: Undisclosed\r\nSender: Bob <bob@example.com>\r\n\r\nx"
    email = parse(raw)
    assert (email.from_name, email.from_email, email.sender_error) == (
        "Bob",
        "bob@example.com",
        "",
    )
    nobody = parse(b"From: Undisclosed\r\n\r\nx")
    assert (nobody.from_name, nobody.from_email) == ("", "")
    assert nobody.sender_error == "The message has no usable sender address."


def test_an_encoded_sender_is_decoded_before_it_is_read():
    email = parse(b"From: =?utf-8?b?SmFuZSA8amFuZUBleGFtcGxlLmNvbT4=?=\r\n\r\nx")
    assert email.from_email == "jane@example.com"


def test_at_most_a_thousand_parts_are_listed():
    message = mail("Body.")
    for _ in range(1001):
        message.add_attachment(b"x", "application", "octet-stream")
    email = parse(bytes(message), max_attachment_bytes=10, max_attachments=1)
    assert len(email.attachments) == 1000
    assert email.attachments[-1].filename == "attachment-1000.bin"
    assert [a.omitted for a in email.attachments[:2]] == [None, "too_many"]


def test_the_entry_point_stores_a_mail_it_cannot_parse_flagged(monkeypatch, caplog):
    def broken(msg):
        raise RuntimeError("a bug")

    monkeypatch.setattr(parts, "raw_headers", broken)
    email = parse_raw_email(b"From: jane@example.com\r\n\r\nbody")
    assert email == ParsedEmail(sender_error="The message could not be parsed.")
    (record,) = [r for r in caplog.records if r.name == "messages_app.parsing.mime"]
    assert record.levelname == "ERROR"
    assert record.getMessage() == "Unparseable message of 30 bytes"
    assert record.exc_info[0] is RuntimeError


def test_content_message_id_is_a_digest_of_its_fields():
    fields = {"user_email": "jane@example.com", "title": "Printer", "date": None, "html": "\udc80"}
    assert content_message_id(fields) == (
        "<b039ae19b8cb4e319c42a86b33bf37342570f3ff@content.servicedesk.invalid>"
    )


def test_html_to_text_skips_nested_invisible_elements_and_keeps_pre_to_its_end():
    html = "<head><title>T</title>hidden</head>shown <pre>a  b</pre><p>c  d</p>"
    assert html_to_text(html) == "shown\n\na  b\n\nc d"


def test_html_to_text_quotes_each_line_of_quoted_preformatted_text():
    assert html_to_text("<blockquote><pre>a\nb</pre></blockquote>") == "> a\n> b"


def test_an_attribution_keeps_its_blank_lines_blank():
    html = '<div class="gmail_attr">On Mon<br><br>Jane wrote:</div><blockquote>old</blockquote>'
    assert html_to_text(html) == "> On Mon\n\n> Jane wrote:\n\n> old"


def test_clean_header_value_makes_one_line_of_controls_and_separators():
    assert clean_header_value("a\r\nb\u200bc\u2028d\x00e\tf") == "a b c d e f"


def test_a_boundary_used_once_and_closed_is_guessed():
    raw = (
        b"From: jane@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\nOnly part.\r\n--XYZ--\r\n"
    )
    assert parse(raw).body == "Only part."


def test_field_form_defaults_are_empty():
    email = parse_field_email(user_email="jane@example.com")
    assert (email.subject, email.body, email.html, email.message_id) == ("", "", "", "")
    assert (email.in_reply_to, email.references, email.date) == ("", [], None)
    assert (email.headers, email.attachments) == ({}, [])
    report = parse_field_email(
        user_email="jane@example.com", headers={"Content-Type": "multipart/report"}
    )
    assert not report.is_bounce


def test_field_form_cuts_header_values_and_content_types_to_their_columns():
    email = parse_field_email(
        user_email="jane@example.com",
        headers={"X-Long": "v" * 3000},
        attachments_omitted=[{"content_type": "t" * 300}],
    )
    assert email.headers == {"X-Long": "v" * 2000}
    assert email.attachments[0].content_type == "t" * 255


class _NoStandardDecoding(EmailMessage):
    """A part whose standard-library decoding must not be used (it copies a file 3 times)."""

    def get_payload(self, i=None, decode=False):
        assert not decode, "decoded by the standard library"
        return super().get_payload(i)


@pytest.mark.parametrize("encoding", ["base64", " BASE64 ", "Base64"])
def test_base64_files_are_decoded_without_the_standard_library_copies(encoding):
    part = _NoStandardDecoding()
    part["Content-Type"] = "application/octet-stream"
    part["Content-Transfer-Encoding"] = encoding
    part.set_payload("QUJD\r\nREVG\r\n")
    assert parts.part_bytes(part, "application/octet-stream") == b"ABCDEF"


def test_non_ascii_base64_text_is_left_to_the_standard_library():
    part = EmailMessage()
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload("QUJD\u00e9")
    assert parts.part_bytes(part, "application/octet-stream") == b"ABC"
    assert parts.part_bytes(EmailMessage(), "text/plain") == b""


def test_attached_messages_keep_their_header_lines_as_written():
    long_value = "word " * 40
    inner = (
        f"From: bob@example.org\r\nSubject: {long_value.strip()}\r\nX-Long: {long_value}x\r\n\r\n"
        "Original.\r\n"
    )
    status = f"Reporting-MTA: dns; {long_value}x\r\n\r\nAction: failed\r\n"
    raw = (
        "From: jane@example.com\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        "Content-Type: text/plain\r\n\r\nSee attached.\r\n--B\r\n"
        f"Content-Type: message/rfc822\r\n\r\n{inner}--B\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n{status}--B--\r\n"
    )
    message, report = parse(raw.encode()).attachments
    assert f"X-Long: {long_value}x".encode() in message.data
    assert f"Reporting-MTA: dns; {long_value}x".encode() in report.data


def test_a_charset_name_with_a_nul_reads_as_no_charset():
    raw = (
        b"From: jane@example.com\r\n"
        b'Content-Type: text/plain; charset="utf\x00-8"\r\n\r\ncaf\xc3\xa9'
    )
    assert parse(raw).body == "café"
