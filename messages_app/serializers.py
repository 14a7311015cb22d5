"""The Message object of API.md and an operator's reply."""

from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from messages_app.attachments import attachment_path
from messages_app.models import (
    OPERATOR_TEXT_MAX_CHARS,
    Attachment,
    CannedReply,
    DeliveryStatus,
    Direction,
    Kind,
    Message,
    OmittedReason,
)
from operators_app.serializers import OperatorRefSerializer
from servicedesk.api import StringField, UTCDateTimeField, refuse_blank

ATTACHMENT_EXAMPLE = {
    "id": 7,
    "filename": "screenshot.png",
    "content_type": "image/png",
    "size": 48213,
    "inline": False,
    "content_id": None,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "url": "https://helpdesk.example.com/api/v1/attachments/7/",
    "omitted": None,
}
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
    "attachments": [ATTACHMENT_EXAMPLE],
    "raw_url": "https://helpdesk.example.com/api/v1/messages/101/raw/",
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
    "attachments": [],
    "raw_url": None,
}


def _absolute(context: Mapping[str, Any], path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class AttachmentSerializer(serializers.ModelSerializer):
    """A file of a mail, or a file that was left out (`omitted` says why)."""

    content_id = serializers.SerializerMethodField(
        help_text="The Content-ID of an inline image (without `<>`), else null."
    )
    sha256 = serializers.SerializerMethodField(
        help_text="Hex SHA-256 of the bytes; null if omitted."
    )
    url = serializers.SerializerMethodField(help_text="Where to download it; null if omitted.")
    omitted = serializers.ChoiceField(
        choices=OmittedReason.choices,
        allow_null=True,
        read_only=True,
        help_text="Null when the file is kept; else `too_large`, `too_many` or `not_forwarded`.",
    )

    class Meta:
        model = Attachment
        # Every field of the object, in its order: the documented example shows them all.
        fields = list(ATTACHMENT_EXAMPLE)
        read_only_fields = fields

    def get_content_id(self, attachment: Attachment) -> str | None:
        return attachment.content_id or None

    def get_sha256(self, attachment: Attachment) -> str | None:
        return attachment.sha256 or None

    def get_url(self, attachment: Attachment) -> str | None:
        if attachment.omitted:
            return None
        return _absolute(self.context, attachment_path(attachment.pk))


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
        help_text="`requester`, `operator`, `auto` for automatic notices, or `note` for an "
        "operator's internal note.",
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
        help_text="Null for inbound mail and notes; `pending`, `sent` or `failed` for outbound "
        "mail.",
    )
    sent_at = UTCDateTimeField(read_only=True, allow_null=True)
    attachments = AttachmentSerializer(
        many=True,
        read_only=True,
        help_text="Every attachment in document order, inline images and omitted files included.",
    )
    raw_url = serializers.SerializerMethodField(
        help_text="The original RFC 822 bytes, kept for mail that arrived in the raw form; "
        "else null."
    )

    class Meta:
        model = Message
        # Every field of the object, in its order: the documented example shows them all.
        fields = list(MESSAGE_EXAMPLE)
        read_only_fields = fields

    def get_raw_url(self, message: Message) -> str | None:
        if not message.raw_key:
            return None
        return _absolute(self.context, reverse("message-raw", kwargs={"id": message.pk}))


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
    """An operator's reply, its own text or a canned reply; it always goes to the request's
    requester."""

    body = StringField(
        max_length=OPERATOR_TEXT_MAX_CHARS,
        trim_whitespace=False,
        required=False,
        help_text="Plain text, at most 100,000 characters; must not be empty or only whitespace. "
        "Required unless `canned_reply` is given.",
    )
    canned_reply = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        help_text="The id of a canned reply to send, filled in for this request, instead of "
        "`body`; 400 when filled in it is longer than a `body` may be.",
    )
    subject = StringField(
        max_length=400,
        required=False,
        allow_blank=True,
        help_text="Optional; default `Re: <request subject>`. The request token `[#<id>]` "
        "is added.",
    )

    def validate_body(self, value: str) -> str:
        return refuse_blank(value)

    def validate(self, attrs: dict) -> dict:
        if "body" in attrs and "canned_reply" in attrs:
            raise serializers.ValidationError(
                {"canned_reply": ["Send either a body or a canned reply, not both."]}
            )
        if "body" not in attrs and "canned_reply" not in attrs:
            raise serializers.ValidationError({"body": ["This field is required."]})
        return attrs


class OutboundFilesSerializer(serializers.Serializer):
    """The files of an operator's mail sent as `multipart/form-data` (documentation: the
    view reads them with `attachments.uploaded_files`, within the limits)."""

    attachments = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="Files to attach: at most OUTBOUND_ATTACHMENT_MAX_COUNT (default 20), at most "
        "OUTBOUND_ATTACHMENT_MAX_BYTES (default 10 MiB) all together.",
    )


class ReplyMultipartSerializer(ReplyCreateSerializer, OutboundFilesSerializer):
    """An operator's reply as `multipart/form-data`, with files (documentation)."""


class NoteCreateSerializer(serializers.Serializer):
    """An internal note, for operators only."""

    body = StringField(
        max_length=OPERATOR_TEXT_MAX_CHARS,
        trim_whitespace=False,
        help_text="Plain text, at most 100,000 characters; must not be empty or only whitespace.",
    )

    def validate_body(self, value: str) -> str:
        return refuse_blank(value)


CANNED_REPLY_EXAMPLE = {
    "id": 2,
    "title": "Restart",
    "body": "Hello {requester_name}, please restart the computer and tell us if it helps.",
    "created_by": {"id": 3, "name": "Alice"},
    "updated_at": "2026-11-20T10:15:00.000000Z",
}


@extend_schema_serializer(
    examples=[OpenApiExample("canned reply", value=CANNED_REPLY_EXAMPLE, response_only=True)]
)
class CannedReplySerializer(serializers.ModelSerializer):
    """A reusable reply. In `body`, `{requester_name}`, `{requester_email}`,
    `{operator_name}`, `{request_id}` and `{subject}` are filled in when it is sent; any other
    brace text stays as it is."""

    title = StringField(max_length=200)
    body = StringField(max_length=OPERATOR_TEXT_MAX_CHARS, trim_whitespace=False)
    created_by = OperatorRefSerializer(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)

    class Meta:
        model = CannedReply
        fields = ["id", "title", "body", "created_by", "updated_at"]
        read_only_fields = ["id", "created_by", "updated_at"]

    def validate_title(self, value: str) -> str:
        return refuse_blank(value)

    def validate_body(self, value: str) -> str:
        return refuse_blank(value)
