"""The webhook's items: each validated on its own into the raw or the field form (API.md).

The serializers are the reference: they word every error. The common, plainly valid
items take a fast path instead (`_plain_raw_item`, `_plain_field_item`) that accepts
nothing the serializers would refuse and gives the same `InboundItem`; the tests in
`messages_app/tests/test_items.py` hold the two paths to that.
"""

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from rest_framework import exceptions, serializers

from messages_app.errors import TooManyMessagesError
from messages_app.inbound.ingest import InboundItem
from messages_app.parsing.addresses import InvalidAddressError, parse_address
from messages_app.parsing.text import InvalidRawError, decode_raw

MAX_ID_LENGTH = 255


# ---------------------------------------------------------------------------
# The serializers (the reference)
# ---------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF would turn 5 into "5"); null reads as empty."""

    default_error_messages = {
        "invalid": "Not a valid string.",
        "surrogate": "Not valid UTF-8 text: the string contains an unpaired surrogate.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None and not self.required:
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate")
        return super().to_internal_value(data)


def _optional(help_text: str, **kwargs: Any) -> StrictCharField:
    return StrictCharField(
        required=False, allow_blank=True, allow_null=True, help_text=help_text, **kwargs
    )


class _ItemSerializer(serializers.Serializer[Any]):
    id = _optional(
        "The mail provider's own id of the message (Gmail's message id); the idempotency key.",
        max_length=MAX_ID_LENGTH,
    )


class RawItemSerializer(_ItemSerializer):
    """Raw form: the whole RFC 822 message, as the bundled Gmail script sends it."""

    raw = StrictCharField(
        help_text="The whole RFC 822 message, base64 (standard or URL-safe alphabet)."
    )

    def validate_raw(self, value: str) -> bytes:
        try:
            return decode_raw(value)
        except InvalidRawError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class StrictSizeField(serializers.IntegerField):
    """A JSON whole number and nothing else (DRF would take "5", 5.0 and true)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class OmittedAttachmentSerializer(serializers.Serializer[Any]):
    """A file the forwarder left out of the field form (the mail was too large to post)."""

    filename = StrictCharField(max_length=1000, allow_blank=True, help_text="The file's name.")
    content_type = StrictCharField(
        max_length=255, allow_blank=True, help_text="Its declared MIME type."
    )
    size = StrictSizeField(min_value=0, max_value=2**63 - 1, help_text="Its size in bytes.")


class FieldItemSerializer(_ItemSerializer):
    """Field form: compatible with the original ServiceDesk forwarding script."""

    user_email = StrictCharField(
        help_text="Sender: `jane@example.com` or `Jane Doe <jane@example.com>`."
    )
    title = _optional("Subject; empty or missing is stored as an empty subject.")
    description = _optional("Plain-text body.")
    message_id = _optional("The RFC 5322 Message-ID.")
    in_reply_to = _optional("In-Reply-To header.")
    references = _optional("References header.")
    date = _optional("RFC 3339 or RFC 5322 date; default: time of receipt.")
    html = _optional("HTML body; stored sanitised, never served as live HTML.")
    headers = serializers.DictField(
        child=StrictCharField(allow_blank=True),
        required=False,
        allow_null=True,
        help_text="Other header names to values, used for automatic-mail detection.",
    )
    attachments_omitted = serializers.ListField(
        child=OmittedAttachmentSerializer(),
        required=False,
        allow_null=True,
        max_length=1000,
        help_text="Attachments the forwarder left out; recorded on the message with "
        '`omitted: "not_forwarded"`.',
    )

    def validate_user_email(self, value: str) -> str:
        try:
            parse_address(value)
        except InvalidAddressError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


# ---------------------------------------------------------------------------
# Reading the batch
# ---------------------------------------------------------------------------


def batch_items(body: bytes, *, release: Callable[[], None] | None = None) -> list[InboundItem]:
    """The batch's items, each validated on its own; raises for a body of the wrong shape.

    `release` is called once the body is parsed, so that the caller can drop its copy; each
    item's text is dropped as soon as it is decoded. A batch near the cap is then held
    about once at a time, not three times over.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise exceptions.ParseError('The body must be a JSON object: {"messages": [...]}.')
    if "messages" not in payload:
        raise serializers.ValidationError({"messages": ["This field is required."]})
    messages = payload["messages"]
    if not isinstance(messages, list):
        kind = type(messages).__name__
        raise serializers.ValidationError(
            {"messages": [f'Expected a list of items but got type "{kind}".']}
        )
    if not messages:
        raise serializers.ValidationError({"messages": ["This list may not be empty."]})
    cap = settings.INBOUND_MAX_BATCH
    if len(messages) > cap:
        raise TooManyMessagesError(
            f"A batch holds at most {cap} messages; this one has {len(messages)}."
        )
    del body, payload
    if release is not None:
        release()
    items = []
    for index in range(len(messages)):
        value, messages[index] = messages[index], None
        items.append(inbound_item(index, value))
        del value
    return items


def inbound_item(index: int, value: object) -> InboundItem:
    """One item validated into the raw or the field form, or carrying its field errors."""
    if isinstance(value, dict):
        plain = _plain_raw_item(index, value) or _plain_field_item(index, value)
        if plain is not None:
            return plain
    return serializer_item(index, value)


def serializer_item(index: int, value: object) -> InboundItem:
    """`inbound_item` through the serializers alone: the reference the fast paths match."""
    if not isinstance(value, dict):
        return InboundItem(
            index=index,
            errors={"non_field_errors": ["Expected an object with `raw` or `user_email`."]},
        )
    given_id = value.get("id")
    echo_id = given_id if isinstance(given_id, str) and given_id.strip() else None
    serializer: RawItemSerializer | FieldItemSerializer
    if "raw" in value:
        serializer = RawItemSerializer(data=value)
    elif "user_email" in value:
        serializer = FieldItemSerializer(data=value)
    else:
        return InboundItem(
            index=index,
            external_id=echo_id,
            errors={
                "non_field_errors": [
                    "Each item needs `raw` (the whole message, base64) or `user_email`."
                ]
            },
        )
    if not serializer.is_valid():
        return InboundItem(
            index=index, external_id=echo_id, errors=_plain_errors(serializer.errors)
        )
    data = dict(serializer.validated_data)
    external_id = (data.pop("id", "") or "").strip() or None
    if "raw" in data:
        return InboundItem(index=index, external_id=external_id, raw=data["raw"])
    data["headers"] = data.get("headers") or {}
    data["attachments_omitted"] = [dict(item) for item in data.get("attachments_omitted") or []]
    return InboundItem(index=index, external_id=external_id, fields=data)


# ---------------------------------------------------------------------------
# The fast paths
# ---------------------------------------------------------------------------


def _plain_raw_item(index: int, value: dict[str, Any]) -> InboundItem | None:
    """The common raw item (`raw`, optional `id`, both plain strings) without a serializer.

    What this does not clearly accept goes through RawItemSerializer, which words the
    errors; the answers are the same either way.
    """
    raw, given_id = value.get("raw"), value.get("id")
    if not isinstance(raw, str) or not set(value) <= {"raw", "id"}:
        return None
    if given_id is not None and not (
        isinstance(given_id, str)
        and len(given_id) <= MAX_ID_LENGTH
        and given_id.isprintable()
        and given_id.isascii()
    ):
        return None
    try:
        data = decode_raw(raw)
    except InvalidRawError:
        return None
    return InboundItem(index=index, external_id=(given_id or "").strip() or None, raw=data)


# The field form's text fields; `user_email` is required, the others may be missing or null.
_FIELD_TEXTS = (
    "user_email",
    "title",
    "description",
    "message_id",
    "in_reply_to",
    "references",
    "date",
    "html",
)
_FIELD_KEYS = frozenset({"id", "headers", *_FIELD_TEXTS})


def _plain_text(value: object) -> bool:
    """A string FieldItemSerializer's StrictCharField takes as it is."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_field_item(index: int, value: dict[str, Any]) -> InboundItem | None:
    """A field-form item whose every field is plainly valid, without building a
    FieldItemSerializer (whose construction deep-copies its twelve fields, the larger part
    of the webhook's CPU for this form).

    It accepts exactly what the serializer accepts and gives the same fields; anything
    else (an unknown or invalid field, an address to reject) goes through the serializer,
    which words the errors.
    """
    if "user_email" not in value or not value.keys() <= _FIELD_KEYS:
        return None
    fields: dict[str, Any] = {}
    for name in _FIELD_TEXTS:
        if name not in value:
            continue
        text = value[name]
        if text is None and name != "user_email":
            text = ""
        elif not _plain_text(text):
            return None
        fields[name] = text
    given_id = value.get("id")
    if given_id is not None and not (_plain_text(given_id) and len(given_id) <= MAX_ID_LENGTH):
        return None
    headers = value.get("headers")
    if headers is not None and not (
        isinstance(headers, dict) and all(_plain_text(text) for text in headers.values())
    ):
        return None
    try:
        parse_address(fields["user_email"])
    except InvalidAddressError:
        return None
    fields["headers"] = dict(headers) if headers else {}
    # What the serializer path gives an item without omitted attachments.
    fields["attachments_omitted"] = []
    return InboundItem(index=index, external_id=(given_id or "").strip() or None, fields=fields)


def _plain_errors(errors: object) -> dict[str, list[str]]:
    """DRF's error structure flattened to API.md's `{"<field>": ["<message>", ...]}`.

    Errors inside a nested value (a header of `headers`) are keyed by their dotted path,
    `headers.X-Foo`, so every value is a list of messages, as the schema says.
    """
    flat: dict[str, list[str]] = {}

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for inner in value:
                walk(inner, path)
        else:
            flat.setdefault(path or "non_field_errors", []).append(str(value))

    walk(errors, "")
    return flat
