"""The Request object of API.md."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from operators_app.serializers import OperatorRefSerializer
from servicedesk.api import UTCDateTimeField, format_utc

from .models import Party, Status, SupportRequest

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
        # The same object the declared fields describe (a test holds them equal), built
        # directly: a page of 50 through DRF's field machinery costs more than the query.
        operator = instance.operator
        return {
            "id": instance.id,
            "subject": instance.subject,
            "requester_email": instance.requester_email,
            "requester_name": instance.requester_name,
            "status": instance.status,
            "operator": None if operator is None else {"id": operator.id, "name": operator.name},
            "created_at": format_utc(instance.created_at),
            "updated_at": format_utc(instance.updated_at),
            "taken_at": format_utc(instance.taken_at),
            "closed_at": format_utc(instance.closed_at),
            "last_message_at": format_utc(instance.last_message_at),
            "message_count": instance.message_count,
            "waiting_on": instance.waiting_on,
        }
