# ruff: noqa: RUF001 (generated mail holds Cyrillic on purpose)
"""Properties of body and reply on generated mail: no text altered, lost or invented.

These call the functions that raise (`extract_reply`, `parse_raw_email_or_raise`), not the
never-raising wrapper, so a bug fails the test instead of turning into an empty mail.
"""

import html
import re
from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages_app.parsing.mime import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    parse_raw_email_or_raise,
)
from messages_app.parsing.replies import extract_reply

WORD = re.compile(r"\w+")

# Printable text in the scripts requesters write in; no control characters (the parser
# drops those on purpose) and no carriage returns (line ends are normalised).
_ALPHABET = st.characters(
    codec="utf-8",
    categories=("L", "N", "P", "S", "Zs"),
    exclude_characters="\r\x85\u2028\u2029",
)
_WORDS = st.text(_ALPHABET, min_size=1, max_size=60).filter(lambda s: s.strip())
_HEADERS = st.sampled_from(
    [
        "On Mon, Nov 16, 2026 at 10:15 AM Service Desk <support@example.com> wrote:",
        "On Wed, May 18, 2026 at 11:10 PM Service Desk <support@example.com>\nwrote:",
        "пн, 16 нояб. 2026 г. в 12:15, Service Desk <support@example.com>:",
        "Den 24. nov. 2026 kl. 10.00 skrev Peter <peter@example.com>:",
        "-----Original Message-----",
        "________________________________",
        " ------------------------------",
        "From: Service Desk <support@example.com>\nSent: Monday\nTo: Jane\nSubject: Printer",
        "---------- Forwarded message ---------",
        "2026/4/7 Jane <jane@example.com>",
        "---- Jane wrote ----",
        "-- ",
        "Sent from my iPhone",
        "Regards,\nJane",
        "Kh\nPeter",
        "-Jane",
        "------ Enter feedback below ------",
    ]
)
_LINE = st.one_of(
    _WORDS,
    _WORDS.map(lambda s: f"> {s}"),
    _WORDS.map(lambda s: f">> {s}"),
    _HEADERS,
    st.just(""),
)
MAIL_TEXT = st.lists(_LINE, min_size=1, max_size=25).map("\n".join)


def parse(data: bytes):
    """The raising parser with the default limits."""
    return parse_raw_email_or_raise(
        data, max_attachment_bytes=MAX_ATTACHMENT_BYTES, max_attachments=MAX_ATTACHMENTS
    )


def words(text: str) -> set[str]:
    return set(WORD.findall(text))


def assert_reply_is_slices_of(reply: str, text: str):
    """Every line of the reply is a piece of the text, unchanged."""
    assert words(reply) <= words(text)
    for line in reply.split("\n"):
        assert line in text, line


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MAIL_TEXT)
def test_reply_is_made_of_unchanged_pieces_of_the_text(text):
    reply = extract_reply(text)
    assert_reply_is_slices_of(reply, text)
    assert bool(reply.strip()) == bool(text.strip())


def _message(text: str, html_part: str | None, attachment: bytes | None) -> bytes:
    message = EmailMessage()
    message["From"] = "Jane <jane@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = "Generated"
    message.set_content(text, charset="utf-8")
    if html_part is not None:
        message.add_alternative(html_part, subtype="html", charset="utf-8")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="octet-stream")
    return message.as_bytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MAIL_TEXT, st.booleans(), st.one_of(st.none(), st.binary(max_size=200)))
def test_body_keeps_the_whole_text_part_and_reply_only_its_words(text, with_html, attachment):
    html_part = f"<p>{html.escape(text)}</p>" if with_html else None
    parsed = parse(_message(text, html_part, attachment))
    assert parsed.body == text.strip()
    assert_reply_is_slices_of(parsed.reply, parsed.body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["p", "div", "blockquote", "li"]), _WORDS), min_size=1))
def test_html_only_mail_keeps_every_word_in_its_body(blocks):
    markup = "".join(f"<{tag}>{html.escape(text)}</{tag}>" for tag, text in blocks)
    message = EmailMessage()
    message["From"] = "Jane <jane@example.com>"
    message["Subject"] = "Generated"
    message.set_content(f"<html><body>{markup}</body></html>", subtype="html", charset="utf-8")
    parsed = parse(message.as_bytes())
    assert words(" ".join(text for _, text in blocks)) <= words(parsed.body)
    assert_reply_is_slices_of(parsed.reply, parsed.body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MAIL_TEXT, min_size=2, max_size=4), MAIL_TEXT)
def test_every_inline_text_part_and_attached_mail_stays_in_the_body(parts, attached_text):
    message = EmailMessage()
    message["From"] = "Jane <jane@example.com>"
    message["Subject"] = "Generated"
    message.set_content(parts[0], charset="utf-8")
    message.make_mixed()
    for text in parts[1:]:
        part = EmailMessage()
        part.set_content(text, charset="utf-8", disposition="inline")
        message.attach(part)
    attached = EmailMessage()
    attached["From"] = "Bob <bob@example.org>"
    attached["Subject"] = "Original"
    attached.set_content(attached_text, charset="utf-8")
    message.add_attachment(attached)
    parsed = parse(message.as_bytes())
    for text in [*parts, attached_text]:
        if text.strip():
            assert text.strip() in parsed.body
    assert_reply_is_slices_of(parsed.reply, parsed.body)
