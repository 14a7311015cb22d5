"""Operators' HTTP API for requests: the list, opening one, one request, take, assign, close,
notes and the history."""

from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from messages_app.attachments import (
    refuse_oversized_upload,
    uploaded_files,
)
from messages_app.serializers import MessageSerializer, NoteCreateSerializer
from operators_app.permissions import IsActiveOperator
from requests_app.counts import CountedRows
from requests_app.filters import ORDERING_FIELDS, SupportRequestFilter
from requests_app.models import Status, SupportRequest
from requests_app.selectors import get_request, list_events, list_request_ids, request_exists
from requests_app.serializers import (
    AssignSerializer,
    OpenRequestMultipartSerializer,
    OpenRequestSerializer,
    RequestEventSerializer,
    SupportRequestSerializer,
    request_data,
)
from requests_app.services import (
    add_note,
    assign_request,
    close_request,
    open_request,
    take_request,
)
from servicedesk.api import (
    NO_OPERATOR_PROFILE,
    UNAUTHENTICATED,
    PageNumberPagination,
    StrictJSONParser,
    error_response,
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
NOT_FOUND = error_response(
    "There is no request with this id.", ("not_found", "No request with this id.")
)
PAGE_INVALID = validation_response(
    "`page` or `page_size` is not a positive whole number.",
    {"page_size": ["Enter a whole number from 1 to 200."]},
)
REQUEST_OR_PAGE_NOT_FOUND = error_response(
    "There is no request with this id, or the page is past the last one.",
    ("not_found", "No request with this id."),
    ("not_found", "Invalid page."),
)
TRANSITION_CONFLICT = error_response(
    "The request's status does not allow this.",
    ("invalid_transition", "A request in status 'closed' cannot become 'closed'."),
)

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


def _request_or_404(request_id: int) -> SupportRequest:
    support_request = get_request(request_id=request_id)
    if support_request is None:
        raise NotFound("No request with this id.")
    return support_request


class RequestListApi(generics.ListAPIView):
    permission_classes = [IsActiveOperator]
    serializer_class = SupportRequestSerializer
    filterset_class = SupportRequestFilter
    pagination_class = PageNumberPagination
    parser_classes = [StrictJSONParser, MultiPartParser]
    # Repeated (`status=new&status=closed`) or comma-separated, both read whole.
    array_query_params = ("status", "ordering")

    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return list_request_ids()

    def list(self, request, *args, **kwargs):
        filterset = self.filter_backends[0]().get_filterset(request, self.get_queryset(), self)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        # The ordering does not change how many requests match: one cached count for all.
        filters = {k: v for k, v in filterset.form.cleaned_data.items() if k != "ordering"}
        page = self.paginate_queryset(CountedRows(filterset.qs, filters=filters))
        return self.get_paginated_response([request_data(row) for row in page])

    @extend_schema(
        operation_id="requests_list",
        tags=TAGS,
        summary="List requests",
        description="Requests, filtered and ordered, newest first by default; paginated.",
        parameters=LIST_PARAMETERS,
        responses={
            200: SupportRequestSerializer(many=True),
            400: validation_response(
                "A query parameter is invalid.",
                {
                    "status": [
                        "Unknown status 'open': use new, in_progress or closed, comma-separated."
                    ]
                },
            ),
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: error_response("The page is past the last one.", ("not_found", "Invalid page.")),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
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
        responses={
            201: SupportRequestSerializer,
            400: validation_response(
                "A bad address, an empty subject or body, or a body that is not a JSON object.",
                {"requester_email": ["Enter a valid email address."]},
                body=True,
            ),
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            409: OpenApiResponse(
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
        },
    )
    def post(self, request, *args, **kwargs):
        refuse_oversized_upload(request)
        serializer = OpenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        files = uploaded_files(
            request, fields=("requester_email", "requester_name", "subject", "body")
        )
        support_request = open_request(
            operator=request.user.operator, files=files, **serializer.validated_data
        )
        return Response(
            SupportRequestSerializer(_request_or_404(support_request.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class RequestDetailApi(APIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="requests_retrieve",
        tags=TAGS,
        summary="Get a request",
        responses={
            200: SupportRequestSerializer,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: NOT_FOUND,
        },
    )
    def get(self, request, id: int):
        return Response(SupportRequestSerializer(_request_or_404(id)).data)


class RequestTakeApi(APIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="requests_take",
        tags=TAGS,
        summary="Take a request",
        description=(
            "The caller takes a `new` request: it becomes `in_progress` with the caller as "
            'operator, and a "taken" notice is queued to the requester. Taking a request the '
            "caller already holds answers 200 and changes nothing. No body."
        ),
        request=None,
        responses={
            200: SupportRequestSerializer,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: NOT_FOUND,
            409: error_response(
                "Another operator holds the request, or it is closed.",
                ("already_taken", "Another operator already holds this request."),
                ("invalid_transition", "A request in status 'closed' cannot become 'in_progress'."),
            ),
        },
    )
    def post(self, request, id: int):
        try:
            take_request(request_id=id, operator=request.user.operator)
        except SupportRequest.DoesNotExist:
            raise NotFound("No request with this id.") from None
        return Response(SupportRequestSerializer(_request_or_404(id)).data)


class RequestCloseApi(APIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="requests_close",
        tags=TAGS,
        summary="Close a request",
        description=(
            'Closes a `new` or `in_progress` request and queues a "closed" notice to the '
            "requester. A request another operator holds may be closed only by staff. No body."
        ),
        request=None,
        responses={
            200: SupportRequestSerializer,
            401: UNAUTHENTICATED,
            403: error_response(
                "No operator profile, or the request is held by another operator and the "
                "caller is not staff.",
                ("no_operator_profile", "This user has no active operator profile."),
                (
                    "permission_denied",
                    "This request is held by another operator; only staff may close it.",
                ),
            ),
            404: NOT_FOUND,
            409: TRANSITION_CONFLICT,
        },
    )
    def post(self, request, id: int):
        try:
            close_request(
                request_id=id, operator=request.user.operator, is_staff=request.user.is_staff
            )
        except SupportRequest.DoesNotExist:
            raise NotFound("No request with this id.") from None
        return Response(SupportRequestSerializer(_request_or_404(id)).data)


class RequestAssignApi(APIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="requests_assign",
        tags=TAGS,
        summary="Assign a request",
        description=(
            "Hands a request to an operator. Staff may assign any open request; the operator "
            'who holds it may hand it on. A `new` request becomes `in_progress` and the "taken" '
            "notice is queued; handing on an `in_progress` request sends no mail."
        ),
        request=AssignSerializer,
        responses={
            200: SupportRequestSerializer,
            400: validation_response(
                "Unknown or inactive operator, or a body that is not a JSON object.",
                {"operator": ["There is no active operator with this id."]},
                body=True,
            ),
            401: UNAUTHENTICATED,
            403: error_response(
                "No operator profile, or the caller is neither staff nor the holder.",
                ("no_operator_profile", "This user has no active operator profile."),
                (
                    "permission_denied",
                    "Only staff, or the operator holding this request, may assign it.",
                ),
            ),
            404: NOT_FOUND,
            409: error_response(
                "The request is closed.",
                ("invalid_transition", "A closed request cannot be assigned."),
            ),
        },
    )
    def post(self, request, id: int):
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            assign_request(
                request_id=id,
                actor=request.user.operator,
                to_operator_id=serializer.validated_data["operator"],
            )
        except SupportRequest.DoesNotExist:
            raise NotFound("No request with this id.") from None
        return Response(SupportRequestSerializer(_request_or_404(id)).data)


class RequestNotesApi(APIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="requests_notes_create",
        tags=TAGS,
        summary="Add an internal note",
        description=(
            "An internal note: a message of kind `note`, direction `internal`, listed among the "
            "messages for operators and never mailed. Allowed on closed requests. It changes "
            "neither `waiting_on` nor `last_message_at`."
        ),
        request=NoteCreateSerializer,
        responses={
            201: MessageSerializer,
            400: validation_response(
                "The body is missing or empty, or the request body is not a JSON object.",
                {"body": ["This field may not be blank."]},
                body=True,
            ),
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: NOT_FOUND,
        },
    )
    def post(self, request, id: int):
        serializer = NoteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            message = add_note(
                request_id=id,
                operator=request.user.operator,
                body=serializer.validated_data["body"],
            )
        except SupportRequest.DoesNotExist:
            raise NotFound("No request with this id.") from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class RequestEventsApi(generics.GenericAPIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]
    pagination_class = PageNumberPagination
    serializer_class = RequestEventSerializer
    filter_backends = []

    def get_queryset(self):
        return list_events(request_id=self.kwargs["id"])

    @extend_schema(
        operation_id="requests_events_list",
        tags=TAGS,
        summary="A request's history",
        description=(
            "What happened to the request, oldest first; paginated. Types: `created`, "
            "`message_received`, `taken`, `assigned`, `replied`, `noted`, `closed`, "
            "`notice_sent`, `mail_failed`. `actor.type` is `operator`, `requester` or `system`."
        ),
        responses={
            200: RequestEventSerializer(many=True),
            400: PAGE_INVALID,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: REQUEST_OR_PAGE_NOT_FOUND,
        },
    )
    def get(self, request, id: int):
        if not request_exists(request_id=id):
            raise NotFound("No request with this id.")
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RequestEventSerializer(page, many=True).data)
