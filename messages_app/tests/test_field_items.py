"""Field-form items validated without a serializer give exactly what the serializer gives."""

import hypothesis
import pytest
from hypothesis import strategies as st

from messages_app.inbound.webhook import FieldItemSerializer, _plain_field_item, inbound_item


def through_serializer(value: dict):
    """What `inbound_item` made of a field-form item before the plain path existed."""
    serializer = FieldItemSerializer(data=value)
    if not serializer.is_valid():
        return None
    data = dict(serializer.validated_data)
    external_id = (data.pop("id", "") or "").strip() or None
    data["headers"] = data.get("headers") or {}
    data["attachments_omitted"] = [dict(item) for item in data.get("attachments_omitted") or []]
    return external_id, data


TEXT = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.sampled_from(["", " ", "a\x00b", "\ud800", "x" * 256, "Jane <jane@example.com>"]),
    st.integers(),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
)
EMAIL = st.one_of(
    TEXT,
    st.sampled_from(
        ["jane@example.com", "Jane Doe <jane@example.com>", "not an address", " j@example.com "]
    ),
)
ITEM = st.fixed_dictionaries(
    {"user_email": EMAIL},
    optional={
        "id": TEXT,
        "title": TEXT,
        "description": TEXT,
        "message_id": TEXT,
        "in_reply_to": TEXT,
        "references": TEXT,
        "date": TEXT,
        "html": TEXT,
        "headers": st.one_of(
            st.none(), TEXT, st.dictionaries(st.text(max_size=5), TEXT, max_size=3)
        ),
        "unknown": TEXT,
    },
)


@hypothesis.settings(max_examples=400, deadline=None, database=None, derandomize=True)
@hypothesis.given(value=ITEM)
def test_the_plain_path_accepts_only_what_the_serializer_accepts_with_the_same_fields(value):
    plain = _plain_field_item(0, value)
    expected = through_serializer(value)

    if plain is not None:
        assert expected == (plain.external_id, plain.fields)
    item = inbound_item(0, value)
    if expected is None:
        assert item.errors
    else:
        assert (item.external_id, item.fields) == expected


@pytest.mark.parametrize(
    "value",
    [
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
def test_common_field_items_take_the_plain_path(value):
    plain = _plain_field_item(0, value)

    assert plain is not None
    assert (plain.external_id, plain.fields) == through_serializer(value)
