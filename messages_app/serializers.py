"""The Message object of API.md and an operator's reply."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from operators_app.serializers import OperatorRefSerializer
from servicedesk.api import StringField, UTCDateTimeField

from .models import DeliveryStatus, Direction, Kind, Message

MESSAGE_EXAMPLE = {
    "id": 101,
    "request_id": 17,
    "direction": "inbound",
    "kind": "requester",
    "author_email": "jane@example.com",
    "operator": None,
    "subject": "Printer is broken",
    "body": "It jams on every page.\n\nOn Mon, Alice wrote:\n> Does it jam?",
    "reply": "It jams on every page.",
    "created_at": "2026-11-20T10:15:00.000000Z",
    "delivery_status": None,
    "sent_at": None,
}
REPLY_EXAMPLE = {
    "id": 102,
    "request_id": 17,
    "direction": "outbound",
    "kind": "operator",
    "author_email": "support@example.com",
    "operator": {"id": 3, "name": "Alice"},
    "subject": "Re: Printer is broken [#17]",
    "body": "Please try the tray on the left.",
    "reply": "Please try the tray on the left.",
    "created_at": "2026-11-20T10:20:00.000000Z",
    "delivery_status": "pending",
    "sent_at": None,
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("requester's mail", value=MESSAGE_EXAMPLE, response_only=True),
        OpenApiExample("operator's reply", value=REPLY_EXAMPLE, response_only=True),
    ]
)
class MessageSerializer(serializers.ModelSerializer):
    """One mail of a request, inbound or outbound."""

    request_id = serializers.IntegerField(read_only=True)
    direction = serializers.ChoiceField(choices=Direction.choices, read_only=True)
    kind = serializers.ChoiceField(
        choices=Kind.choices,
        read_only=True,
        help_text="`requester`, `operator`, or `auto` for automatic notices.",
    )
    operator = OperatorRefSerializer(
        read_only=True, allow_null=True, help_text="The operator who wrote a reply."
    )
    body = serializers.CharField(read_only=True, help_text="The whole plain text.")
    reply = serializers.CharField(
        read_only=True,
        help_text="The new text without quoted history and signature (the body when none).",
    )
    created_at = UTCDateTimeField(read_only=True)
    delivery_status = serializers.ChoiceField(
        choices=DeliveryStatus.choices,
        read_only=True,
        allow_null=True,
        help_text="Null for inbound mail; `pending`, `sent` or `failed` for outbound mail.",
    )
    sent_at = UTCDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "request_id",
            "direction",
            "kind",
            "author_email",
            "operator",
            "subject",
            "body",
            "reply",
            "created_at",
            "delivery_status",
            "sent_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "reply",
            value={"body": "Please try the tray on the left."},
            request_only=True,
        ),
        OpenApiExample(
            "reply with a subject",
            value={"body": "Please try the tray on the left.", "subject": "Paper tray"},
            request_only=True,
        ),
    ]
)
class ReplyCreateSerializer(serializers.Serializer):
    """An operator's reply; it always goes to the request's requester."""

    body = StringField(
        max_length=100_000,
        trim_whitespace=False,
        help_text="Plain text, at most 100,000 characters; must not be empty or only whitespace.",
    )
    subject = StringField(
        max_length=400,
        required=False,
        allow_blank=True,
        help_text="Optional; default `Re: <request subject>`. The request token `[#<id>]` "
        "is added.",
    )

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.", code="blank")
        return value
