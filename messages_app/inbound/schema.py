"""The OpenAPI description of the inbound webhook (drf-spectacular), apart from its view.

The serializers here only document: the view reads and validates the body itself
(`messages_app.inbound.items`) and writes its answer as plain data.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema_field,
)
from rest_framework import serializers

from messages_app.errors import InvalidSignatureError, WebhookNotConfiguredError
from messages_app.inbound.ingest import Outcome
from messages_app.inbound.items import FieldItemSerializer, RawItemSerializer
from messages_app.inbound.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER
from servicedesk.schema import (
    error_response,
    operation,
    validation_response,
)

# ---------------------------------------------------------------------------
# Request
# ---------------------------------------------------------------------------


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="InboundItem",
        serializers=[RawItemSerializer, FieldItemSerializer],
        resource_type_field_name=None,
    )
)
class InboundItemField(serializers.JSONField):
    """One item: the raw form or the field form (documentation of `messages[]`)."""


class InboundBatchSerializer(serializers.Serializer[Any]):
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


class ItemResultSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(help_text="Position of the item in `messages`.")
    id = serializers.CharField(allow_null=True, help_text="The item's `id`, or null.")
    outcome = serializers.ChoiceField(choices=[outcome.value for outcome in Outcome])
    request_id = serializers.IntegerField(
        required=False, help_text="For `created`, `appended` and `duplicate`."
    )
    message_id = serializers.IntegerField(
        required=False, help_text="For `created`, `appended` and `duplicate`."
    )
    errors = serializers.DictField(  # type: ignore[assignment]  # the result's field
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For `rejected`: the invalid fields and their messages.",
    )


class BatchSummarySerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    appended = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    ignored = serializers.IntegerField()
    rejected = serializers.IntegerField()


class InboundBatchResultSerializer(serializers.Serializer[Any]):
    results = ItemResultSerializer(many=True)
    summary = BatchSummarySerializer()


# ---------------------------------------------------------------------------
# The operation
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


# Applied to `InboundEmailsApi` as its class decorator.
inbound_emails_schema = operation(
    "post",
    "inbound_emails_create",
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
