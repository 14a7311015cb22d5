"""The OpenAPI description of the requests API (`requests_app.apis`): what each view takes
and answers, applied to the view classes with `extend_schema_view`."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from messages_app.serializers import MessageSerializer, NoteCreateSerializer
from requests_app.filters import ORDERING_FIELDS
from requests_app.models import Status
from requests_app.serializers import (
    AssignSerializer,
    OpenRequestMultipartSerializer,
    OpenRequestSerializer,
    RequestEventSerializer,
    SupportRequestSerializer,
)
from servicedesk.schema import (
    body_validation_response,
    error_response,
    list_responses,
    not_found_response,
    not_permitted_response,
    operation,
    operator_responses,
    validation_response,
)

TAGS = ["requests"]
OpenRequestExistsSerializer = inline_serializer(
    "OpenRequestExists",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "request_id": serializers.IntegerField(help_text="The requester's open request."),
    },
)
REQUEST_NOT_FOUND = not_found_response("request")
REQUEST_OR_PAGE_NOT_FOUND = not_found_response("request", paginated=True)
TRANSITION_CONFLICT = error_response(
    "The request's status does not allow this.",
    ("invalid_transition", "A request in status 'closed' cannot become 'closed'."),
)


def request_closed_response(detail: str) -> OpenApiResponse:
    """The 409 of an operation a closed request refuses."""
    return error_response("The request is closed.", ("invalid_transition", detail))


LIST_PARAMETERS = [
    OpenApiParameter(
        "status",
        {"type": "array", "minItems": 1, "items": {"type": "string", "enum": Status.values}},
        style="form",
        explode=False,
        description="`new`, `in_progress` or `closed`; several comma-separated (the parameter "
        "may also be repeated: `status=new&status=closed`). Another value, or an empty one, "
        "answers 400. "
        "Examples: `new,in_progress` (open requests), `closed`.",
    ),
    OpenApiParameter(
        "operator",
        str,
        pattern=r"^([Nn][Oo][Nn][Ee]|[1-9][0-9]{0,17})$",
        description="An operator id, or `none` for requests nobody has taken. Another value "
        "answers 400. Examples: `none`, `3`.",
    ),
    OpenApiParameter(
        "requester_email",
        {"type": "string", "maxLength": 254},
        description="The requester's exact address, compared case-insensitively. "
        "Example: `Jane@Example.com`.",
    ),
    OpenApiParameter(
        "search",
        {"type": "string", "maxLength": 254},
        description="Words, all of which must appear in the subject or the requester's "
        "address (case-insensitive substrings); or words found in the text of the request's "
        "messages (whole words, any case; quotes for a phrase, `-word` to exclude one). "
        "Example: `printer jam`.",
    ),
    OpenApiParameter(
        "created_after",
        OpenApiTypes.DATETIME,
        description="Requests created at or after this RFC 3339 time, with any UTC offset "
        "(`2026-11-20T10:15:00Z`, `2026-11-20T13:15:00+03:00`), or this date "
        "(`2026-11-20`: its midnight UTC). A time without an offset is UTC. Invalid: 400.",
    ),
    OpenApiParameter(
        "created_before",
        OpenApiTypes.DATETIME,
        description="Requests created strictly before this RFC 3339 time or date (same forms "
        "as `created_after`). Invalid: 400. Example: `2026-12-01`.",
    ),
    OpenApiParameter(
        "ordering",
        {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "string",
                "enum": [sign + name for name in ORDERING_FIELDS for sign in ("", "-")],
            },
        },
        style="form",
        explode=False,
        description="Fields to order by, comma-separated, `-` for descending: "
        + ", ".join(f"`{name}`" for name in ORDERING_FIELDS)
        + " (`operator` orders by the operator's name, unassigned last; `status` by its "
        "code: closed, in_progress, new). Default "
        "`-created_at`. Ties are broken by `id` in the direction of the last field. "
        "The parameter may also be repeated, read in order. An unknown or empty field answers "
        "400. "
        "Examples: `-created_at` (newest first), `status,last_message_at`.",
    ),
]

request_list = extend_schema_view(
    get=extend_schema(
        operation_id="requests_list",
        tags=TAGS,
        summary="List requests",
        description="Requests, filtered and ordered, newest first by default; paginated.",
        parameters=LIST_PARAMETERS,
        responses=list_responses(
            SupportRequestSerializer,
            invalid=validation_response(
                "A query parameter is invalid.",
                {
                    "status": [
                        "Unknown status 'open': use new, in_progress or closed, comma-separated."
                    ]
                },
            ),
        ),
    ),
    post=extend_schema(
        operation_id="requests_create",
        tags=TAGS,
        summary="Open a request",
        description=(
            "An operator opens a request (a phone call, or writing first). It starts "
            "`in_progress`, held by the caller; `body` is its first message, mailed to the "
            "requester (no acknowledgement notice). As `multipart/form-data` it also takes "
            "files under `attachments`, with the limits of a reply."
        ),
        request={
            "application/json": OpenRequestSerializer,
            "multipart/form-data": OpenRequestMultipartSerializer,
        },
        responses=operator_responses(
            {201: SupportRequestSerializer},
            invalid=body_validation_response(
                "A bad address, an empty subject or body, or a body that is not a JSON object.",
                {"requester_email": ["Enter a valid email address."]},
            ),
            conflict=OpenApiResponse(
                response=OpenRequestExistsSerializer,
                description="The requester already has an open request; `request_id` names it.",
                examples=[
                    OpenApiExample(
                        "open_request_exists",
                        value={
                            "detail": "jane@example.com already has an open request (#17).",
                            "code": "open_request_exists",
                            "request_id": 17,
                        },
                        response_only=True,
                    )
                ],
            ),
        ),
    ),
)

request_detail = operation(
    "get",
    "requests_retrieve",
    tags=TAGS,
    summary="Get a request",
    responses=operator_responses({200: SupportRequestSerializer}, not_found=REQUEST_NOT_FOUND),
)

request_take = operation(
    "post",
    "requests_take",
    tags=TAGS,
    summary="Take a request",
    description=(
        "The caller takes a `new` request: it becomes `in_progress` with the caller as "
        'operator, and a "taken" notice is queued to the requester. Taking a request the '
        "caller already holds answers 200 and changes nothing. No body."
    ),
    request=None,
    responses=operator_responses(
        {200: SupportRequestSerializer},
        not_found=REQUEST_NOT_FOUND,
        conflict=error_response(
            "Another operator holds the request, or it is closed.",
            ("already_taken", "Another operator already holds this request."),
            ("invalid_transition", "A request in status 'closed' cannot become 'in_progress'."),
        ),
    ),
)

request_close = operation(
    "post",
    "requests_close",
    tags=TAGS,
    summary="Close a request",
    description=(
        'Closes a `new` or `in_progress` request and queues a "closed" notice to the '
        "requester. A request another operator holds may be closed only by staff. No body."
    ),
    request=None,
    responses=operator_responses(
        {200: SupportRequestSerializer},
        forbidden=not_permitted_response(
            "the request is held by another operator and the caller is not staff",
            "This request is held by another operator; only staff may close it.",
        ),
        not_found=REQUEST_NOT_FOUND,
        conflict=TRANSITION_CONFLICT,
    ),
)

request_assign = operation(
    "post",
    "requests_assign",
    tags=TAGS,
    summary="Assign a request",
    description=(
        "Hands a request to an operator. Staff may assign any open request; the operator "
        'who holds it may hand it on. A `new` request becomes `in_progress` and the "taken" '
        "notice is queued; handing on an `in_progress` request sends no mail."
    ),
    request=AssignSerializer,
    responses=operator_responses(
        {200: SupportRequestSerializer},
        invalid=body_validation_response(
            "Unknown or inactive operator, or a body that is not a JSON object.",
            {"operator": ["There is no active operator with this id."]},
        ),
        forbidden=not_permitted_response(
            "the caller is neither staff nor the holder",
            "Only staff, or the operator holding this request, may assign it.",
        ),
        not_found=REQUEST_NOT_FOUND,
        conflict=request_closed_response("A closed request cannot be assigned."),
    ),
)

request_notes = operation(
    "post",
    "requests_notes_create",
    tags=TAGS,
    summary="Add an internal note",
    description=(
        "An internal note: a message of kind `note`, direction `internal`, listed among the "
        "messages for operators and never mailed. Allowed on closed requests. It changes "
        "neither `waiting_on` nor `last_message_at`."
    ),
    request=NoteCreateSerializer,
    responses=operator_responses(
        {201: MessageSerializer},
        invalid=body_validation_response(
            "The body is missing or empty, or the request body is not a JSON object.",
            {"body": ["This field may not be blank."]},
        ),
        not_found=REQUEST_NOT_FOUND,
    ),
)

request_events = operation(
    "get",
    "requests_events_list",
    tags=TAGS,
    summary="A request's history",
    description=(
        "What happened to the request, oldest first; paginated. Types: `created`, "
        "`message_received`, `taken`, `assigned`, `replied`, `noted`, `closed`, "
        "`notice_sent`, `mail_failed`. `actor.type` is `operator`, `requester` or `system`."
    ),
    responses=list_responses(RequestEventSerializer, not_found=REQUEST_OR_PAGE_NOT_FOUND),
)
