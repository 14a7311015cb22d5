"""Properties of parsing on hostile input: what comes out is well formed, and nothing
but a bug escapes.

These call `parse_raw_email_or_raise`, not the entry point that contains every failure:
an exception the narrowed handlers miss fails the test instead of turning into an empty
mail, and each mail is checked for the shape the service stores.
"""

import re
from datetime import UTC

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages_app.parsing.addresses import MAX_MESSAGE_ID, MAX_REFERENCES, normalise_email
from messages_app.parsing.html import html_to_text, sanitise_html
from messages_app.parsing.mime import (
    KEPT_HEADERS,
    MAX_SUBJECT,
    ParsedEmail,
    parse_raw_email_or_raise,
)
from messages_app.parsing.replies import split_reply
from messages_app.parsing.text import MAX_HEADER_VALUE, clean_filename, clean_text
from messages_app.tests.corpus import FIXTURES, fixture_bytes

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
WORD = re.compile(r"\w+")
OMISSIONS = (None, "too_large", "too_many")
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def is_clean(text: str) -> bool:
    return clean_text(text) == text


def is_one_line(text: str, limit: int) -> bool:
    """Clean, spaces collapsed, within its column (cut after collapsing: it may end in one)."""
    return is_clean(text) and len(text) <= limit and text.rstrip() == " ".join(text.split())


def assert_well_formed(email: ParsedEmail) -> None:
    """The shape every stored mail has, whatever it was parsed from."""
    for text in (email.body, email.reply, email.html, email.from_name):
        assert is_clean(text)
    assert is_one_line(email.subject, MAX_SUBJECT)
    assert set(WORD.findall(email.reply)) <= set(WORD.findall(email.body))
    if email.from_email:
        assert not email.sender_error
        assert normalise_email(email.from_email) == email.from_email
    else:
        assert email.sender_error
    for message_id in [email.message_id, email.in_reply_to, *email.references]:
        assert message_id == "" or MESSAGE_ID.fullmatch(message_id), message_id
        assert len(message_id) <= MAX_MESSAGE_ID
        assert message_id == message_id.lower()
    assert "" not in email.references
    assert len(set(email.references)) == len(email.references) <= MAX_REFERENCES
    assert set(email.headers) <= set(KEPT_HEADERS)
    assert all(is_one_line(value, MAX_HEADER_VALUE) for value in email.headers.values())
    assert email.date is None or (email.date.tzinfo == UTC and email.date.year >= 1970)
    assert email.is_automatic or not email.is_bounce
    for attachment in email.attachments:
        assert attachment.omitted in OMISSIONS
        assert (attachment.data is None) == (attachment.omitted is not None)
        if attachment.data is not None:
            assert attachment.size == len(attachment.data)
        assert attachment.filename == clean_filename(attachment.filename)
        assert is_one_line(attachment.content_type, 255)
        assert len(attachment.content_id) <= 255


def parse(data: bytes) -> ParsedEmail:
    email = parse_raw_email_or_raise(data, max_attachment_bytes=100, max_attachments=2)
    assert_well_formed(email)
    return email


# --- generated hostile mail ------------------------------------------------------------

# Charsets a header or part may declare: real ones, aliases, non-text codecs, nonsense.
_CHARSETS = [
    "utf-8", "koi8-r", "windows-1251", "x-unknown", "base64", "rot13", "idna", "utf-7",
    "zlib", "punycode", "ébc", "utf-16", "x-mac-cyrillic", "", '"', "iso-2022-jp", "ascii",
]  # fmt: skip
_ENCODED_WORD = st.builds(
    "=?{}?{}?{}?=".format,
    st.sampled_from(_CHARSETS),
    st.sampled_from(["q", "b", "Q", "B", "x"]),
    st.text(alphabet="ABCDEFGHabc=+/_0123456789?%", max_size=20),
)
_SPECIALS = st.sampled_from(
    ['"', "<", ">", "(", ")", ",", ";", ":", "@", "\\", "[", "]", "é", "=?", "?=", " ", "\t"]
)
HEADER_VALUE = st.lists(
    st.one_of(st.text(max_size=30), _ENCODED_WORD, _SPECIALS, st.just("\r\n ")), max_size=12
).map("".join)
_HEADER_NAMES = [
    "From", "Sender", "Subject", "To", "Cc", "Date", "Message-ID", "In-Reply-To",
    "References", "Content-Type", "Content-Disposition", "Content-Transfer-Encoding",
    "Content-ID", "Return-Path", "Auto-Submitted", "X-Failed-Recipients",
]  # fmt: skip
_TYPES = [
    "multipart/mixed", "multipart/report", "multipart/alternative", "text/plain",
    "text/html", "message/rfc822", "message/global", "application/pdf", "x/y",
]  # fmt: skip
_PARAMS = ["boundary", "charset", "name", "report-type", "filename*", "name*", "filename*0*"]
CONTENT_TYPE = st.one_of(
    HEADER_VALUE,
    st.builds("{}; {}={}".format, st.sampled_from(_TYPES), st.sampled_from(_PARAMS), HEADER_VALUE),
)
DISPOSITION = st.builds(
    "{}; {}={}".format,
    st.sampled_from(["attachment", "inline", "x"]),
    st.sampled_from(["filename", "filename*", "filename*0*", "name"]),
    HEADER_VALUE,
)
BODY = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [b"<![if !supportLists]>x<![endif]>", b"<!DOCTYPE [ <!x>]>", b"<![CDATA[x", b"<p>a"]
    ),
)


def _part(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


@st.composite
def hostile_mail(draw) -> bytes:
    headers = draw(st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), HEADER_VALUE), max_size=8))
    if not draw(st.booleans()):
        return _part([*headers, ("Content-Type", draw(CONTENT_TYPE))], draw(BODY))
    boundary = draw(st.sampled_from(["BND", "", "a b"]))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        part_headers = [("Content-Type", draw(CONTENT_TYPE))]
        if draw(st.booleans()):
            part_headers.append(("Content-Disposition", draw(DISPOSITION)))
        if draw(st.booleans()):
            encoding = draw(st.sampled_from(["base64", "quoted-printable", "x-uuencode", "x"]))
            part_headers.append(("Content-Transfer-Encoding", encoding))
        if draw(st.booleans()):
            part_headers.append(("Content-ID", draw(HEADER_VALUE)))
        parts.append(_part(part_headers, draw(BODY)))
    kind = draw(st.sampled_from(["mixed", "report", "alternative"]))
    content_type = f'multipart/{kind}; boundary="{boundary}"; report-type=delivery-status'
    delimiter = b"--" + boundary.encode()
    body = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts) + delimiter + b"--"
    return _part([*headers, ("Content-Type", content_type)], body)


# --- properties --------------------------------------------------------------------


@settings(SETTINGS, max_examples=300)
@given(st.binary(max_size=4000))
def test_parser_reads_arbitrary_bytes_into_a_well_formed_mail(data):
    parse(data)


@settings(SETTINGS, max_examples=150)
@given(
    st.sampled_from(FIXTURES),
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=1, max_size=64),
)
def test_parser_reads_damaged_real_mail_into_a_well_formed_mail(name, position, junk):
    data = fixture_bytes(name)
    position %= len(data)
    parse(data[:position] + junk + data[position + len(junk) :])


@settings(SETTINGS, max_examples=120)
@given(hostile_mail())
def test_parser_reads_hostile_headers_and_parts_into_a_well_formed_mail(data):
    parse(data)


@settings(SETTINGS, max_examples=120)
@given(st.one_of(st.text(max_size=2000), HEADER_VALUE))
def test_text_helpers_give_clean_text_on_arbitrary_text(text):
    reply = split_reply(text)
    assert set(WORD.findall(reply)) <= set(WORD.findall(text))
    assert bool(reply) == bool(text.strip())
    assert is_clean(html_to_text(text))
    assert is_clean(sanitise_html(text))
    assert "<script" not in sanitise_html(text).lower()
