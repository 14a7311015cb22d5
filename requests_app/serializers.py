"""The Request object of API.md."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from operators_app.serializers import OperatorRefSerializer
from servicedesk.api import UTCDateTimeField, format_utc

from .models import Party, Status, SupportRequest, waiting_on

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
        fields = [
            "id",
            "subject",
            "requester_email",
            "requester_name",
            "status",
            "operator",
            "created_at",
            "updated_at",
            "taken_at",
            "closed_at",
            "last_message_at",
            "message_count",
            "waiting_on",
        ]
        read_only_fields = fields

    def to_representation(self, instance: SupportRequest) -> dict:
        operator = instance.operator
        return request_data(
            (
                instance.id,
                instance.subject,
                instance.requester_email,
                instance.requester_name,
                instance.status,
                instance.operator_id,
                operator.name if operator else None,
                instance.created_at,
                instance.updated_at,
                instance.taken_at,
                instance.closed_at,
                instance.last_message_at,
                instance.message_count,
                instance.last_reply_by,
            )
        )


def request_data(row: tuple) -> dict:
    """The Request object of a row of `selectors.REQUEST_COLUMNS`.

    The same object the serializer's declared fields describe (a test holds them equal),
    built directly: a page of 50 through DRF's field machinery costs more than the query.
    """
    (
        pk,
        subject,
        requester_email,
        requester_name,
        status,
        operator_id,
        operator_name,
        created_at,
        updated_at,
        taken_at,
        closed_at,
        last_message_at,
        message_count,
        last_reply_by,
    ) = row
    return {
        "id": pk,
        "subject": subject,
        "requester_email": requester_email,
        "requester_name": requester_name,
        "status": status,
        "operator": None if operator_id is None else {"id": operator_id, "name": operator_name},
        "created_at": format_utc(created_at),
        "updated_at": format_utc(updated_at),
        "taken_at": format_utc(taken_at),
        "closed_at": format_utc(closed_at),
        "last_message_at": format_utc(last_message_at),
        "message_count": message_count,
        "waiting_on": waiting_on(status=status, last_reply_by=last_reply_by),
    }
