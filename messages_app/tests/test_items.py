"""The webhook's items: the fast paths give exactly what the serializers give.

`inbound_item` takes a fast path for plainly valid raw and field items and hands the rest
to the serializers (`serializer_item`, the reference, which words the errors). Whatever
the item, both must give the same `InboundItem`: the same form, id, bytes or fields, or
the same errors.
"""

import base64

import hypothesis
import pytest
from hypothesis import strategies as st

from messages_app.inbound import items
from messages_app.inbound.ingest import InboundItem
from messages_app.inbound.items import inbound_item, serializer_item

MAIL = b"From: Jane <jane@example.com>\r\nSubject: Printer\r\n\r\nIt jams.\r\n"
B64 = base64.b64encode(MAIL).decode()


def assert_same(value: object) -> InboundItem:
    """The item through `inbound_item` equals the item through the serializers alone."""
    expected = serializer_item(3, value)
    assert inbound_item(3, value) == expected
    return expected


# Values of the wrong type, odd strings, and strings DRF would coerce or refuse.
ODD = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.sampled_from(
        ["", " ", "\t\n", "a\x00b", "\ud800", "x\udfffy", "x" * 255, "x" * 256, "\u2028", "é"]
    ),
)
# Mostly plain text, so that many items are valid and the fast paths are exercised.
TEXT = st.one_of(st.text(max_size=20), st.text(max_size=20), st.none(), ODD)
EMAIL = st.one_of(
    st.emails(),
    st.builds("{} <{}>".format, st.text(max_size=8), st.emails()),
    TEXT,
    st.sampled_from(
        [
            "jane@example.com",
            "Jane Doe <jane@example.com>",
            '"Doe, Jane" <jane@example.com>',
            "=?utf-8?b?0K/QvdCw?= <yana@example.com>",
            "not an address",
            " j@example.com ",
            "jane@example.com, joe@example.com",
            "жена@example.com",
            "<>",
        ]
    ),
)
ID = st.one_of(
    st.text(max_size=20), TEXT, st.sampled_from([" g-1 ", "18c2f1a9b3d4e5f6", "id\x7f", "é" * 10])
)


@st.composite
def base64_text(draw) -> str:
    """Base64 of some bytes in the ways senders write it, or something close to it."""
    data = draw(st.one_of(st.just(MAIL), st.binary(max_size=40)))
    text = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))(data).decode()
    if draw(st.booleans()):
        text = text.rstrip("=")
    if text and not draw(st.integers(0, 3)):
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at]
            + draw(st.sampled_from([" ", "\n", "\r\n", "\x1c", "=", "!", "\x00"]))
            + text[at:]
        )
    return text


RAW = st.one_of(base64_text(), base64_text(), TEXT)
FIELDS = {
    "title": TEXT,
    "description": TEXT,
    "message_id": TEXT,
    "in_reply_to": TEXT,
    "references": TEXT,
    "date": TEXT,
    "html": TEXT,
    "headers": st.one_of(ODD, st.dictionaries(st.text(max_size=5), TEXT, max_size=3)),
    "attachments_omitted": st.one_of(
        ODD,
        st.lists(
            st.fixed_dictionaries(
                {"filename": TEXT, "content_type": TEXT, "size": st.one_of(st.integers(), ODD)}
            ),
            max_size=2,
        ),
    ),
}
RAW_ITEM = st.one_of(
    st.fixed_dictionaries({"raw": RAW}, optional={"id": ID}),
    st.fixed_dictionaries(
        {"raw": RAW}, optional={"id": ID, "user_email": EMAIL, "title": TEXT, "unknown": TEXT}
    ),
)
FIELD_ITEM = st.one_of(
    st.fixed_dictionaries({"user_email": EMAIL}, optional={"id": ID, **FIELDS}),
    st.fixed_dictionaries({"user_email": EMAIL}, optional={"id": ID, **FIELDS, "unknown": TEXT}),
)
ANY_ITEM = st.one_of(RAW_ITEM, FIELD_ITEM, st.fixed_dictionaries({}, optional={"id": ID}), ODD)


@hypothesis.settings(max_examples=600, deadline=None, database=None, derandomize=True)
@hypothesis.given(value=RAW_ITEM)
def test_a_raw_item_gives_what_the_serializer_gives(value):
    assert_same(value)


@hypothesis.settings(max_examples=600, deadline=None, database=None, derandomize=True)
@hypothesis.given(value=FIELD_ITEM)
def test_a_field_item_gives_what_the_serializer_gives(value):
    assert_same(value)


@hypothesis.settings(max_examples=200, deadline=None, database=None, derandomize=True)
@hypothesis.given(value=ANY_ITEM)
def test_any_item_gives_what_the_serializer_gives(value):
    assert_same(value)


@pytest.mark.parametrize(
    "value",
    [
        # Whitespace.
        {"raw": f" {B64}\n"},
        {"raw": B64, "id": "  "},
        {"raw": B64, "id": " g-1 "},
        {"raw": " \n "},
        {"user_email": " jane@example.com ", "title": "  ", "id": "\t"},
        {"user_email": "jane@example.com", "headers": {"X-Empty": ""}},
        # Non-string types.
        {"raw": 5},
        {"raw": B64, "id": 5},
        {"raw": B64, "id": True},
        {"user_email": 5},
        {"user_email": "jane@example.com", "title": 5},
        {"user_email": "jane@example.com", "title": ["a"]},
        {"user_email": "jane@example.com", "headers": {"X-Count": 3}},
        {"user_email": "jane@example.com", "headers": ["To"]},
        {"user_email": "jane@example.com", "attachments_omitted": [{"size": "5"}]},
        # Oversize.
        {"raw": B64, "id": "x" * 255},
        {"raw": B64, "id": "x" * 256},
        {"user_email": "jane@example.com", "id": "é" * 256},
        # Missing keys.
        {},
        {"id": "g-1"},
        {"id": 5},
        {"title": "Printer"},
        # Extra keys.
        {"raw": B64, "unknown": 1},
        {"raw": B64, "user_email": "jane@example.com"},
        {"user_email": "jane@example.com", "unknown": "x"},
        {"user_email": "jane@example.com", "raw": "!!"},
        # Nulls.
        {"raw": None},
        {"raw": B64, "id": None},
        {"user_email": None},
        {"user_email": "jane@example.com", "title": None, "headers": None, "id": None},
        {"user_email": "jane@example.com", "headers": {"X-Null": None}},
        {"user_email": "jane@example.com", "attachments_omitted": None},
        # Unicode and surrogates.
        {"raw": B64 + "é"},
        {"raw": B64, "id": "é"},
        {"raw": B64, "id": "\ud800"},
        {"raw": "\ud800"},
        {"user_email": "Яна <yana@example.com>", "title": "Принтер", "description": "😀"},
        {"user_email": "\ud800@example.com"},
        {"user_email": "jane@example.com", "title": "\udfff"},
        {"user_email": "jane@example.com", "headers": {"X-Bad": "\ud800"}},
        {"user_email": "jane@example.com", "description": "a\x00b"},
        {"raw": B64, "id": "a\x00b"},
        # Not an object.
        None,
        "raw",
        [{"raw": B64}],
    ],
)
def test_edge_cases_give_what_the_serializer_gives(value):
    assert_same(value)


@pytest.mark.parametrize(
    "value",
    [
        {"raw": B64},
        {"raw": B64, "id": " 18c2f1a9b3d4e5f6 "},
        {"user_email": "jane@example.com"},
        {
            "id": " g-1 ",
            "user_email": "Jane Doe <jane@example.com>",
            "title": "Printer",
            "description": "It jams.",
            "message_id": "<a@x>",
            "in_reply_to": None,
            "references": "<b@x>",
            "date": "2026-11-20T10:15:00Z",
            "html": "<p>It jams.</p>",
            "headers": {"Auto-Submitted": "auto-replied"},
        },
    ],
)
def test_common_items_take_the_fast_path(monkeypatch, value):
    expected = serializer_item(0, value)
    monkeypatch.setattr(items, "serializer_item", pytest.fail)

    assert not expected.errors
    assert inbound_item(0, value) == expected


def test_a_valid_item_keeps_its_form_and_a_stripped_id():
    assert assert_same({"raw": B64, "id": " g-1 "}) == InboundItem(
        index=3, external_id="g-1", raw=MAIL
    )
    assert assert_same({"user_email": "jane@example.com", "title": None}) == InboundItem(
        index=3,
        fields={
            "user_email": "jane@example.com",
            "title": "",
            "headers": {},
            "attachments_omitted": [],
        },
    )
