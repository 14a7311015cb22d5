"""The signed inbound webhook: `POST /api/v1/inbound/emails/` (see API.md).

The view checks, in order: the webhook is configured (503), the body's size (413), its
content type (415), the HMAC signature over `timestamp.body` (401), the JSON shape
(400) and the batch size (413). Only then does it validate each item on its own and
hand the batch to `ingest_batch`; a bad item is reported `rejected` and never affects
another.
"""

import io
import json
from collections import Counter
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http.request import UnreadablePostError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from messages_app.inbound.ingest import InboundItem, ItemResult, Outcome, ingest_batch
from messages_app.inbound.signatures import verify_signature
from messages_app.parsing.addresses import InvalidAddressError, parse_address
from messages_app.parsing.text import InvalidRawError, decode_raw
from servicedesk.api import error_response, validation_response
from servicedesk.exceptions import (
    InvalidSignatureError,
    PayloadTooLargeError,
    TooManyMessagesError,
    WebhookNotConfiguredError,
)
from servicedesk.metrics import record_ingest_outcomes
from servicedesk.renderers import JSONRenderer

TIMESTAMP_HEADER = "X-Servicedesk-Timestamp"
SIGNATURE_HEADER = "X-Servicedesk-Signature"
JSON_MEDIA_TYPE = "application/json"
MAX_ID_LENGTH = 255


# ---------------------------------------------------------------------------
# Request items
# ---------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF would turn 5 into "5"); null reads as empty."""

    default_error_messages = {
        "invalid": "Not a valid string.",
        "surrogate": "Not valid UTF-8 text: the string contains an unpaired surrogate.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None and not self.required:
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate")
        return super().to_internal_value(data)


def _optional(help_text: str, **kwargs) -> StrictCharField:
    return StrictCharField(
        required=False, allow_blank=True, allow_null=True, help_text=help_text, **kwargs
    )


class _ItemSerializer(serializers.Serializer):
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

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class OmittedAttachmentSerializer(serializers.Serializer):
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


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="InboundItem",
        serializers=[RawItemSerializer, FieldItemSerializer],
        resource_type_field_name=None,
    )
)
class InboundItemField(serializers.JSONField):
    """One item: the raw form or the field form (documentation of `messages[]`)."""


class InboundBatchSerializer(serializers.Serializer):
    """The request body (documentation; the view validates it itself, item by item)."""

    messages = serializers.ListField(
        child=InboundItemField(),
        min_length=1,
        max_length=100,
        help_text="1 to INBOUND_MAX_BATCH (default 100) items.",
    )


# ---------------------------------------------------------------------------
# Response
# ---------------------------------------------------------------------------


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in `messages`.")
    id = serializers.CharField(allow_null=True, help_text="The item's `id`, or null.")
    outcome = serializers.ChoiceField(choices=[outcome.value for outcome in Outcome])
    request_id = serializers.IntegerField(
        required=False, help_text="For `created`, `appended` and `duplicate`."
    )
    message_id = serializers.IntegerField(
        required=False, help_text="For `created`, `appended` and `duplicate`."
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For `rejected`: the invalid fields and their messages.",
    )


class BatchSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    appended = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    ignored = serializers.IntegerField()
    rejected = serializers.IntegerField()


class InboundBatchResultSerializer(serializers.Serializer):
    results = ItemResultSerializer(many=True)
    summary = BatchSummarySerializer()


# ---------------------------------------------------------------------------
# Reading the request
# ---------------------------------------------------------------------------


def _plain_errors(errors) -> dict[str, list[str]]:
    """DRF's error structure flattened to API.md's `{"<field>": ["<message>", ...]}`.

    Errors inside a nested value (a header of `headers`) are keyed by their dotted path,
    `headers.X-Foo`, so every value is a list of messages, as the schema says.
    """
    flat: dict[str, list[str]] = {}

    def walk(value, path: str) -> None:
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


def signed_body(request) -> bytes:
    """The raw body of a configured, size-checked, JSON, correctly signed request."""
    secret = settings.INBOUND_WEBHOOK_SECRET
    if not secret:
        raise WebhookNotConfiguredError()
    cap = settings.INBOUND_MAX_BODY_BYTES
    too_large = PayloadTooLargeError(f"The request body is larger than {cap} bytes.")
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > cap:
        raise too_large
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.split(";")[0].strip().lower() != JSON_MEDIA_TYPE:
        raise exceptions.UnsupportedMediaType(
            content_type or "(none)",
            detail=f"Send the batch as {JSON_MEDIA_TYPE}, not '{content_type[:100]}'.",
        )
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large from None
    except (UnreadablePostError, OSError) as exc:
        raise exceptions.ParseError("The request body could not be read.") from exc
    if len(body) > cap:
        raise too_large
    if not verify_signature(
        secret=secret,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        tolerance=settings.INBOUND_SIGNATURE_TOLERANCE_SECONDS,
    ):
        raise InvalidSignatureError()
    return body


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


def release_body(request) -> None:
    """Drop the request's copy of a body that was read and parsed (Django keeps the bytes,
    and a stream over them, for the life of the request)."""
    django_request = getattr(request, "_request", request)
    django_request._body = b""
    django_request._stream = io.BytesIO(b"")


def inbound_item(index: int, value) -> InboundItem:
    """One item validated into the raw or the field form, or carrying its field errors."""
    if not isinstance(value, dict):
        return InboundItem(
            index=index,
            errors={"non_field_errors": ["Expected an object with `raw` or `user_email`."]},
        )
    given_id = value.get("id")
    echo_id = given_id if isinstance(given_id, str) and given_id.strip() else None
    plain = _plain_raw_item(index, value, echo_id) or _plain_field_item(index, value)
    if plain is not None:
        return plain
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


def _plain_raw_item(index: int, value: dict, echo_id: str | None) -> InboundItem | None:
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
    return InboundItem(index=index, external_id=echo_id and echo_id.strip(), raw=data)


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


def _plain_text(value) -> bool:
    """A string FieldItemSerializer's StrictCharField takes as it is."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_field_item(index: int, value: dict) -> InboundItem | None:
    """A field-form item whose every field is plainly valid, without building a
    FieldItemSerializer (whose construction deep-copies its twelve fields, the larger part
    of the webhook's CPU for this form).

    It accepts exactly what the serializer accepts and gives the same fields; anything
    else (an unknown or invalid field, an address to reject) goes through the serializer,
    which words the errors.
    """
    if "user_email" not in value or not value.keys() <= _FIELD_KEYS:
        return None
    fields: dict = {}
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


def summarise(results: list[ItemResult]) -> dict[str, int]:
    """How many items of a batch had each outcome."""
    counts = Counter(result.outcome for result in results)
    return {outcome.value: counts.get(outcome, 0) for outcome in Outcome}


def result_data(result: ItemResult) -> dict:
    data = {"index": result.index, "id": result.external_id, "outcome": result.outcome.value}
    if result.request_id is not None:
        data["request_id"] = result.request_id
        data["message_id"] = result.message_id
    if result.errors is not None:
        data["errors"] = result.errors
    return data


# ---------------------------------------------------------------------------
# The view
# ---------------------------------------------------------------------------

_EXAMPLE_RESPONSE = {
    "results": [
        {
            "index": 0,
            "id": "18c2f1a9b3d4e5f6",
            "outcome": "created",
            "request_id": 17,
            "message_id": 101,
        },
        {
            "index": 1,
            "id": None,
            "outcome": "rejected",
            "errors": {"user_email": ["Enter a valid email address."]},
        },
    ],
    "summary": {"created": 1, "appended": 0, "duplicate": 0, "ignored": 0, "rejected": 1},
}


class InboundEmailsApi(APIView):
    """The mail-forwarding script's entry point; signed with HMAC, not a user's credentials."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    # The view reads and verifies the raw body itself; the parser only documents the type.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="inbound_emails_create",
        tags=["inbound"],
        summary="Ingest a batch of inbound mail (signed webhook)",
        description=(
            "Used by the bundled Google Apps Script. The request is signed: "
            "`X-Servicedesk-Signature: sha256=<hex>` is the lowercase hex HMAC-SHA256, keyed "
            "with `INBOUND_WEBHOOK_SECRET`, of `<timestamp>.<raw body>`, where `<timestamp>` "
            "is `X-Servicedesk-Timestamp` (unix seconds, within 300 s of the server's clock). "
            "Each item is stored at most once (by `id`, else by Message-ID) and routed: thread "
            "headers, then the subject token `[#<id>]`, then the sender's open request, else "
            "a new request. Each item gets exactly one outcome."
        ),
        request=InboundBatchSerializer,
        parameters=[
            OpenApiParameter(
                TIMESTAMP_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="Unix time in seconds when the request was signed.",
            ),
            OpenApiParameter(
                SIGNATURE_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="`sha256=<hex>`: HMAC-SHA256 of `<timestamp>.<raw body>`.",
            ),
        ],
        examples=[
            OpenApiExample(
                "raw form",
                value={"messages": [{"id": "18c2f1a9b3d4e5f6", "raw": "RnJvbTogSmFuZS..."}]},
                request_only=True,
            ),
            OpenApiExample(
                "field form",
                value={
                    "messages": [
                        {
                            "user_email": "Jane Doe <jane@example.com>",
                            "title": "Printer is broken",
                            "description": "It jams on every page.",
                        }
                    ]
                },
                request_only=True,
            ),
        ],
        responses={
            200: OpenApiResponse(
                response=InboundBatchResultSerializer,
                description="One result per item, in order, and the count of each outcome.",
                examples=[OpenApiExample("outcomes", value=_EXAMPLE_RESPONSE, response_only=True)],
            ),
            400: validation_response(
                "The body is not JSON, not an object, or `messages` is missing, empty or "
                'not a list (`{"detail", "code"}` for a body that is not a JSON object).',
                {"messages": ["This list may not be empty."]},
            ),
            401: error_response(
                "Missing or wrong signature, or a timestamp outside the clock window.",
                ("invalid_signature", InvalidSignatureError.default_detail),
            ),
            413: error_response(
                "More items than INBOUND_MAX_BATCH, or a body over INBOUND_MAX_BODY_BYTES.",
                ("too_many_messages", "A batch holds at most 100 messages; this one has 101."),
                ("payload_too_large", "The request body is larger than 50331648 bytes."),
            ),
            415: error_response(
                "The body is not sent as application/json.",
                ("unsupported_media_type", "Send the batch as application/json."),
            ),
            503: error_response(
                "INBOUND_WEBHOOK_SECRET is not configured: the webhook never runs unsigned.",
                ("webhook_not_configured", WebhookNotConfiguredError.default_detail),
            ),
        },
    )
    def post(self, request):
        items = batch_items(signed_body(request), release=lambda: release_body(request))
        results = ingest_batch(items=items)
        summary = summarise(results)
        record_ingest_outcomes(summary)
        return Response({"results": [result_data(r) for r in results], "summary": summary})
