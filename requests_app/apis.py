"""Operators' HTTP API for requests: the list, opening one, one request, take, assign, close,
notes and the history. What each view takes and answers is described in `schema`."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from messages_app.attachments import refuse_oversized_upload, uploaded_files
from messages_app.serializers import MessageSerializer, NoteCreateSerializer
from operators_app.permissions import IsActiveOperator
from requests_app import schema
from requests_app.counts import CountedRows
from requests_app.filters import SupportRequestFilter
from requests_app.models import SupportRequest
from requests_app.rows import RequestRow
from requests_app.selectors import get_request, list_events, list_request_ids, request_exists
from requests_app.serializers import (
    AssignSerializer,
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
from servicedesk.api import PageNumberPagination, StrictJSONParser, validated
from servicedesk.api_views import PaginatedListApi

NO_SUCH_REQUEST = "No request with this id."


@contextmanager
def _request_found() -> Iterator[None]:
    """A request the service does not find is a 404."""
    try:
        yield
    except SupportRequest.DoesNotExist:
        raise NotFound(NO_SUCH_REQUEST) from None


def require_request(request_id: int) -> None:
    """A 404 unless the request exists: checked before the body is read, so an unknown
    request is a 404 whatever the body."""
    if not request_exists(request_id=request_id):
        raise NotFound(NO_SUCH_REQUEST)


def _request_or_404(request_id: int) -> SupportRequest:
    support_request = get_request(request_id=request_id)
    if support_request is None:
        raise NotFound(NO_SUCH_REQUEST)
    return support_request


def _request_response(request_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    """The request as it is now, freshly read."""
    return Response(SupportRequestSerializer(_request_or_404(request_id)).data, status=status_code)


@schema.request_list
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
        filterset = DjangoFilterBackend().get_filterset(request, self.get_queryset(), self)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        # The ordering does not change how many requests match: one cached count for all.
        filters = {k: v for k, v in filterset.form.cleaned_data.items() if k != "ordering"}
        # CountedRows is the part of a queryset the paginator uses (count, slicing).
        page = self.paginate_queryset(
            CountedRows(  # type: ignore[arg-type]
                filterset.qs,
                filters=filters,
            )
        )
        rows = cast("list[tuple[object, ...]]", page or [])  # the list reads value tuples
        return self.get_paginated_response([request_data(RequestRow._make(row)) for row in rows])

    def post(self, request, *args, **kwargs):
        refuse_oversized_upload(request)
        data = validated(OpenRequestSerializer, request.data)
        files = uploaded_files(
            request, fields=("requester_email", "requester_name", "subject", "body")
        )
        support_request = open_request(operator=request.user.operator, files=files, **data)
        return _request_response(support_request.pk, status_code=status.HTTP_201_CREATED)


@schema.request_detail
class RequestDetailApi(APIView):
    permission_classes = [IsActiveOperator]

    def get(self, request, id: int):
        return _request_response(id)


class RequestActionApi(APIView):
    """A POST that changes one request through a service (`act`) and answers the request as
    it is then; a request the service does not find is a 404."""

    permission_classes = [IsActiveOperator]

    def post(self, request, id: int):
        with _request_found():
            self.act(request, id)
        return _request_response(id)

    def act(self, request, id: int) -> None:
        raise NotImplementedError


@schema.request_take
class RequestTakeApi(RequestActionApi):
    def act(self, request, id: int) -> None:
        take_request(request_id=id, operator=request.user.operator)


@schema.request_close
class RequestCloseApi(RequestActionApi):
    def act(self, request, id: int) -> None:
        close_request(request_id=id, operator=request.user.operator, is_staff=request.user.is_staff)


@schema.request_assign
class RequestAssignApi(RequestActionApi):
    def act(self, request, id: int) -> None:
        require_request(id)
        to_operator_id = validated(AssignSerializer, request.data)["operator"]
        assign_request(request_id=id, actor=request.user.operator, to_operator_id=to_operator_id)


@schema.request_notes
class RequestNotesApi(APIView):
    permission_classes = [IsActiveOperator]

    def post(self, request, id: int):
        require_request(id)
        body = validated(NoteCreateSerializer, request.data)["body"]
        with _request_found():
            message = add_note(request_id=id, operator=request.user.operator, body=body)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


@schema.request_events
class RequestEventsApi(PaginatedListApi):
    permission_classes = [IsActiveOperator]
    serializer_class = RequestEventSerializer

    def get_queryset(self):
        return list_events(request_id=self.kwargs["id"])

    def get(self, request, id: int):
        require_request(id)
        return self.list(request)
