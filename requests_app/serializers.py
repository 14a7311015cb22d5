"""The Request object of API.md."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from messages_app.models import OPERATOR_TEXT_MAX_CHARS
from messages_app.parsing.addresses import InvalidAddressError, normalise_email
from messages_app.serializers import OutboundFilesSerializer
from operators_app.serializers import OperatorRefSerializer
from requests_app.models import (
    ActorType,
    EventType,
    Party,
    RequestEvent,
    Status,
    SupportRequest,
    waiting_on,
)
from requests_app.rows import REQUEST_COLUMNS, RequestRow
from servicedesk.api import (
    EmailStringField,
    StringField,
    UTCDateTimeField,
    format_utc,
    refuse_blank,
)

REQUEST_EXAMPLE = {
    "id": 17,
    "subject": "Printer is broken",
    "requester_email": "jane@example.com",
    "requester_name": "Jane Doe",
    "status": "in_progress",
    "operator": {"id": 3, "name": "Alice"},
    "created_at": "2026-11-20T10:15:00.000000Z",
    "updated_at": "2026-11-20T11:02:41.512000Z",
    "taken_at": "2026-11-20T11:02:41.512000Z",
    "closed_at": None,
    "last_message_at": "2026-11-20T11:02:41.512000Z",
    "first_response_at": "2026-11-20T11:02:41.512000Z",
    "message_count": 4,
    "waiting_on": "requester",
}


@extend_schema_serializer(
    component_name="SupportRequest",
    examples=[OpenApiExample("in progress", value=REQUEST_EXAMPLE, response_only=True)],
)
class SupportRequestSerializer(serializers.ModelSerializer):
    """A request, with who holds it and whose turn it is to write."""

    operator = OperatorRefSerializer(
        read_only=True, allow_null=True, help_text="Who holds the request; null until taken."
    )
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    created_at = UTCDateTimeField(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)
    taken_at = UTCDateTimeField(read_only=True, allow_null=True)
    closed_at = UTCDateTimeField(read_only=True, allow_null=True)
    last_message_at = UTCDateTimeField(
        read_only=True, allow_null=True, help_text="When the newest message was stored."
    )
    first_response_at = UTCDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the first operator reply was stored (not a notice or a note); null "
        "until there is one.",
    )
    message_count = serializers.IntegerField(read_only=True)
    waiting_on = serializers.ChoiceField(
        choices=Party.choices,
        read_only=True,
        allow_null=True,
        help_text="`operator` when the newest message came from the requester, `requester` "
        "when it came from an operator, null when closed.",
    )

    class Meta:
        model = SupportRequest
        # Every field of the object, in its order: the documented example shows them all.
        fields = list(REQUEST_EXAMPLE)
        read_only_fields = fields

    def to_representation(self, instance: SupportRequest) -> dict:
        return request_data(_row_of(instance))


def _row_of(support_request: SupportRequest) -> RequestRow:
    """The instance's RequestRow: the columns the list reads, the joined operator's included."""
    values = []
    for column in REQUEST_COLUMNS:
        value: object = support_request
        for name in column.split("__"):
            value = None if value is None else getattr(value, name)
        values.append(value)
    return RequestRow._make(values)


def request_data(row: RequestRow) -> dict:
    """The Request object of a row.

    The same object the serializer's declared fields describe (a test holds them equal),
    built directly: a page of 50 through DRF's field machinery costs more than the query.
    """
    operator_id, operator_name = row.operator_id, row.operator__name
    return {
        "id": row.id,
        "subject": row.subject,
        "requester_email": row.requester_email,
        "requester_name": row.requester_name,
        "status": row.status,
        "operator": None if operator_id is None else {"id": operator_id, "name": operator_name},
        "created_at": format_utc(row.created_at),
        "updated_at": format_utc(row.updated_at),
        "taken_at": format_utc(row.taken_at),
        "closed_at": format_utc(row.closed_at),
        "last_message_at": format_utc(row.last_message_at),
        "first_response_at": format_utc(row.first_response_at),
        "message_count": row.message_count,
        "waiting_on": waiting_on(status=row.status, last_reply_by=row.last_reply_by),
    }


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "phone call",
            value={
                "requester_email": "jane@example.com",
                "requester_name": "Jane Doe",
                "subject": "Your new laptop",
                "body": "Hello Jane, your laptop is ready for pick-up at the front desk.",
            },
            request_only=True,
        )
    ]
)
class OpenRequestSerializer(serializers.Serializer):
    """An operator opens a request by writing to the requester first."""

    requester_email = EmailStringField(max_length=254, help_text="The requester's address.")
    requester_name = StringField(max_length=200, required=False, allow_blank=True, default="")
    subject = StringField(
        max_length=400,
        validators=[refuse_blank],
        help_text="The request's subject; the first mail's subject with `[#<id>]` added.",
    )
    body = StringField(
        max_length=OPERATOR_TEXT_MAX_CHARS,
        trim_whitespace=False,
        validators=[refuse_blank],
        help_text="The first message, mailed to the requester; plain text.",
    )

    def validate_requester_email(self, value: str) -> str:
        # The rule every stored address follows, so the mail can be sent at all.
        try:
            address = normalise_email(value)
        except InvalidAddressError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None
        if address == settings.SUPPORT_EMAIL:
            # Its mail would come back to the support inbox, where mail from the service
            # itself is dropped: the requester could never answer.
            raise serializers.ValidationError(
                "This is the service desk's own address, not a requester's.", code="invalid"
            )
        return address


class OpenRequestMultipartSerializer(OpenRequestSerializer, OutboundFilesSerializer):
    """Opening a request as `multipart/form-data`, with files (documentation)."""


class AssignSerializer(serializers.Serializer):
    """Whom to hand the request to."""

    operator = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The id of an active operator."
    )


EVENT_EXAMPLE = {
    "id": 1,
    "at": "2026-11-20T11:02:41.512000Z",
    "type": "assigned",
    "actor": {"type": "operator", "id": 3, "name": "Alice"},
    "data": {"from_operator": 3, "to_operator": 5},
}


class EventActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ActorType.choices)
    id = serializers.IntegerField(allow_null=True, help_text="The operator's id; null otherwise.")
    name = serializers.CharField(
        allow_null=True, help_text="The operator's or requester's name; null for the system."
    )


@extend_schema_serializer(
    component_name="RequestEvent",
    examples=[OpenApiExample("assigned", value=EVENT_EXAMPLE, response_only=True)],
)
class RequestEventSerializer(serializers.ModelSerializer):
    """One entry of a request's history: what happened, when, and who did it."""

    at = UTCDateTimeField(read_only=True)
    type = serializers.ChoiceField(choices=EventType.choices, read_only=True)
    actor = EventActorSerializer(read_only=True)
    # The event's `data` field (a serializer's own `.data` is not used on this nested one).
    data = serializers.DictField(  # type: ignore[assignment]
        read_only=True,
        help_text="`assigned`: `from_operator`, `to_operator`; `mail_failed`: `message_id`, "
        "`error`; events about a message: `message_id`.",
    )

    class Meta:
        model = RequestEvent
        fields = ["id", "at", "type", "actor", "data"]
        read_only_fields = fields

    def to_representation(self, instance: RequestEvent) -> dict:
        if instance.actor_type == ActorType.OPERATOR and instance.operator is not None:
            actor = {"type": "operator", "id": instance.operator.pk, "name": instance.operator.name}
        elif instance.actor_type == ActorType.REQUESTER:
            request = instance.request
            name = request.requester_name or request.requester_email
            actor = {"type": "requester", "id": None, "name": name}
        else:
            actor = {"type": "system", "id": None, "name": None}
        return {
            "id": instance.pk,
            "at": format_utc(instance.at),
            "type": instance.type,
            "actor": actor,
            "data": instance.data,
        }
