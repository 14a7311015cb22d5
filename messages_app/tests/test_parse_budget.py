"""Bounded parsing cost: hostile shapes of mail are stored with what could be read.

Each shape took minutes before its step was bounded (quadratic in the size of the
shape). The webhook tests carry a generous pytest-timeout instead of a wall-clock
assert: the old code runs far past it, the new one takes a second or two.
"""

import pytest
from rest_framework.test import APIClient

from messages_app.models import Message
from messages_app.parsing.addresses import parse_references
from messages_app.parsing.html import MAX_HTML_DEPTH, html_to_text, html_too_deep
from messages_app.parsing.mime import parse_raw_email
from testing.mail import SECRET, make_mail, post_batch, raw_item

REFERENCES = " ".join(f"<ref-{i}@example.com>" for i in range(100_000))
ENCODED_SUBJECT = " ".join(["=?utf-8?q?caf=C3=A9?="] * 100_000)
DEEP_HTML = "<html><body>" + "<div>" * 150_000 + "deep text" + "</div>" * 150_000
UNCLOSED_TAGS = "<p>Before</p>" + "<a" * 100_000


def _raw(
    headers: str,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    sender: str = "Jane Doe <jane@example.com>",
) -> bytes:
    return (
        f"From: {sender}\r\nMessage-ID: <hostile@example.com>\r\n"
        f"Content-Type: {content_type}\r\n{headers}\r\n"
    ).encode() + body


SHAPES = {
    "references": _raw(f"Subject: Thread\r\nReferences: {REFERENCES}\r\n", b"Long thread."),
    "subject": _raw(f"Subject: {ENCODED_SUBJECT}\r\n", b"Encoded subject."),
    "sender": _raw("Subject: Name\r\n", b"Name.", sender=f"{ENCODED_SUBJECT} <jane@example.com>"),
    "kept_header": _raw(f"Subject: Cc\r\nCc: {ENCODED_SUBJECT} <c@example.com>\r\n", b"Cc."),
    "deep_html": _raw("Subject: Deep\r\n", DEEP_HTML.encode(), "text/html; charset=utf-8"),
    "unclosed_tags": _raw("Subject: Tags\r\n", UNCLOSED_TAGS.encode(), "text/html"),
}


@pytest.fixture
def client(settings):
    settings.INBOUND_WEBHOOK_SECRET = SECRET
    return APIClient()


@pytest.mark.django_db
@pytest.mark.timeout(60)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_hostile_mail_is_stored_with_what_could_be_read_and_the_batch_goes_on(client, shape):
    before = make_mail(sender="bob@example.com", subject="Before", message_id="<b@example.com>")
    after = make_mail(sender="eve@example.com", subject="After", message_id="<a@example.com>")
    before, after = raw_item(before, "before"), raw_item(after, "after")
    response = post_batch(client, [before, raw_item(SHAPES[shape], "hostile"), after])
    assert response.status_code == 200
    assert [r["outcome"] for r in response.json()["results"]] == ["created"] * 3
    assert Message.objects.get(external_id="before").subject == "Before"
    assert Message.objects.get(external_id="after").subject == "After"
    hostile = Message.objects.get(external_id="hostile")
    assert hostile.author_email == "jane@example.com"
    assert hostile.body


@pytest.mark.timeout(60)
def test_what_is_read_of_each_shape():
    assert parse_raw_email(SHAPES["references"]).references[-1] == "<ref-99999@example.com>"
    assert len(parse_raw_email(SHAPES["references"]).references) == 100
    subject = parse_raw_email(SHAPES["subject"]).subject
    # Adjacent encoded words join without the space between them (RFC 2047).
    assert subject == "café" * 125
    deep = parse_raw_email(SHAPES["deep_html"])
    assert (deep.body, deep.html) == ("deep text", "")
    assert parse_raw_email(SHAPES["unclosed_tags"]).body.startswith("Before\n\n<a<a<a")


def test_references_keep_order_and_drop_repeats_in_one_pass():
    value = "<b@x> <a@x> <b@x> <c@x> <a@x>"
    assert parse_references(value) == ["<b@x>", "<a@x>", "<c@x>"]


def test_html_depth_limit_counts_nesting_not_size():
    assert not html_too_deep("<div>x</div>" * 10_000)
    assert not html_too_deep("<p>unclosed paragraph" * 10_000 + "<br>" * 10_000)
    assert not html_too_deep("<div>" * MAX_HTML_DEPTH)
    assert html_too_deep("<div>" * (MAX_HTML_DEPTH + 1))


def test_nested_quotes_are_marked_with_a_bounded_number_of_markers():
    text = html_to_text("<blockquote>" * 50 + "old" + "</blockquote>" * 50)
    assert text == "> " * 10 + "old"
