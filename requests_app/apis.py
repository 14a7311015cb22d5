"""Operators' HTTP API for requests: the list, one request, take and close."""

from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from operators_app.permissions import IsActiveOperator
from servicedesk.api import (
    NO_OPERATOR_PROFILE,
    UNAUTHENTICATED,
    PageNumberPagination,
    StrictJSONParser,
    error_response,
    validation_response,
)

from .counts import CountedRows
from .filters import ORDERING_FIELDS, SupportRequestFilter
from .models import Status, SupportRequest
from .selectors import get_request, list_request_rows
from .serializers import SupportRequestSerializer, request_data
from .services import close_request, take_request

TAGS = ["requests"]
NOT_FOUND = error_response(
    "There is no request with this id.", ("not_found", "No request with this id.")
)
TRANSITION_CONFLICT = error_response(
    "The request's status does not allow this.",
    ("invalid_transition", "A request in status 'closed' cannot become 'closed'."),
)

LIST_PARAMETERS = [
    OpenApiParameter(
        "status",
        {"type": "array", "items": {"type": "string", "enum": Status.values}},
        style="form",
        explode=False,
        description="`new`, `in_progress` or `closed`; several comma-separated (the parameter "
        "may also be repeated: `status=new&status=closed`). Another value answers 400.",
        examples=[
            OpenApiExample("open requests", value=["new", "in_progress"]),
            OpenApiExample("closed", value=["closed"]),
        ],
    ),
    OpenApiParameter(
        "operator",
        str,
        pattern=r"^(none|[1-9][0-9]{0,17})$",
        description="An operator id, or `none` for requests nobody has taken. Another value "
        "answers 400.",
        examples=[
            OpenApiExample("unassigned", value="none"),
            OpenApiExample("operator 3", value="3"),
        ],
    ),
    OpenApiParameter(
        "requester_email",
        {"type": "string", "maxLength": 254},
        description="The requester's exact address, compared case-insensitively.",
        examples=[OpenApiExample("address", value="Jane@Example.com")],
    ),
    OpenApiParameter(
        "search",
        {"type": "string", "maxLength": 254},
        description="Words, all of which must appear in the subject or the requester's "
        "address (case-insensitive substrings).",
        examples=[OpenApiExample("words", value="printer jam")],
    ),
    OpenApiParameter(
        "created_after",
        OpenApiTypes.DATETIME,
        description="Requests created at or after this RFC 3339 time, with any UTC offset "
        "(`2026-11-20T10:15:00Z`, `2026-11-20T13:15:00+03:00`), or this date "
        "(`2026-11-20`: its midnight UTC). A time without an offset is UTC. Invalid: 400.",
        examples=[
            OpenApiExample("UTC time", value="2026-11-20T10:15:00Z"),
            OpenApiExample("time with offset", value="2026-11-20T13:15:00+03:00"),
            OpenApiExample("date", value="2026-11-20"),
        ],
    ),
    OpenApiParameter(
        "created_before",
        OpenApiTypes.DATETIME,
        description="Requests created strictly before this RFC 3339 time or date (same forms "
        "as `created_after`). Invalid: 400.",
        examples=[OpenApiExample("date", value="2026-12-01")],
    ),
    OpenApiParameter(
        "ordering",
        {
            "type": "array",
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
        "The parameter may also be repeated, read in order. An unknown field answers 400.",
        examples=[
            OpenApiExample("newest first", value=["-created_at"]),
            OpenApiExample("by status, then oldest activity", value=["status", "last_message_at"]),
        ],
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
    parser_classes = [StrictJSONParser]
    # Repeated (`status=new&status=closed`) or comma-separated, both read whole.
    array_query_params = ("status", "ordering")

    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return list_request_rows()

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
