"""Operators' HTTP API for a request's messages (the thread, replying to the requester) and
canned replies. What each view takes and answers is described in `schema`."""

from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from messages_app import schema
from messages_app.attachments import refuse_oversized_upload, uploaded_files
from messages_app.canned import create_canned_reply, delete_canned_reply, update_canned_reply
from messages_app.models import CannedReply
from messages_app.selectors import get_canned_reply, list_canned_replies, list_request_messages
from messages_app.serializers import (
    CannedReplySerializer,
    MessageSerializer,
    ReplyCreateSerializer,
)
from operators_app.permissions import IsActiveOperator
from requests_app.models import SupportRequest
from requests_app.selectors import request_exists
from requests_app.services import reply_to_request
from servicedesk.api import PageNumberPagination, StrictJSONParser


@schema.request_messages
class RequestMessagesApi(generics.GenericAPIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser, MultiPartParser]
    pagination_class = PageNumberPagination
    serializer_class = MessageSerializer
    filter_backends = []

    def get_queryset(self):
        return list_request_messages(request_id=self.kwargs["id"])

    def get(self, request, id: int):
        if not request_exists(request_id=id):
            raise NotFound("No request with this id.")
        page = self.paginate_queryset(self.get_queryset())
        context = self.get_serializer_context()
        return self.get_paginated_response(MessageSerializer(page, many=True, context=context).data)

    def post(self, request, id: int):
        if not request_exists(request_id=id):
            raise NotFound("No request with this id.")
        refuse_oversized_upload(request)
        serializer = ReplyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        canned_reply = None
        if "canned_reply" in serializer.validated_data:
            canned_reply = get_canned_reply(
                canned_reply_id=serializer.validated_data["canned_reply"]
            )
            if canned_reply is None:
                raise ValidationError({"canned_reply": ["There is no canned reply with this id."]})
        files = uploaded_files(request, fields=("body", "subject", "canned_reply"))
        try:
            message = reply_to_request(
                request_id=id,
                operator=request.user.operator,
                body=serializer.validated_data.get("body"),
                subject=serializer.validated_data.get("subject") or None,
                attachments=files,
                canned_reply=canned_reply,
            )
        except SupportRequest.DoesNotExist:
            raise NotFound("No request with this id.") from None
        # The stored row as written: with in-process tasks (no broker) delivery may already
        # have run by now, but the answer describes the reply as queued.
        data = MessageSerializer(message, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


@schema.canned_reply_list
class CannedReplyListApi(generics.GenericAPIView):
    permission_classes = [IsActiveOperator]
    pagination_class = PageNumberPagination
    serializer_class = CannedReplySerializer
    filter_backends = []

    def get_queryset(self):
        return list_canned_replies()

    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CannedReplySerializer(page, many=True).data)

    def post(self, request):
        serializer = CannedReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        canned_reply = create_canned_reply(
            operator=request.user.operator,
            title=serializer.validated_data["title"],
            body=serializer.validated_data["body"],
        )
        return Response(
            CannedReplySerializer(get_canned_reply(canned_reply_id=canned_reply.pk)).data,
            status=status.HTTP_201_CREATED,
        )


@schema.canned_reply_detail
class CannedReplyDetailApi(generics.GenericAPIView):
    permission_classes = [IsActiveOperator]
    serializer_class = CannedReplySerializer
    filter_backends = []

    def _get(self, id: int) -> CannedReply:
        canned_reply = get_canned_reply(canned_reply_id=id)
        if canned_reply is None:
            raise NotFound("No canned reply with this id.")
        return canned_reply

    def get(self, request, id: int):
        return Response(CannedReplySerializer(self._get(id)).data)

    def patch(self, request, id: int):
        self._get(id)
        serializer = CannedReplySerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            update_canned_reply(
                canned_reply_id=id,
                operator=request.user.operator,
                title=serializer.validated_data.get("title"),
                body=serializer.validated_data.get("body"),
            )
        except CannedReply.DoesNotExist:
            raise NotFound("No canned reply with this id.") from None
        return Response(CannedReplySerializer(self._get(id)).data)

    def delete(self, request, id: int):
        try:
            delete_canned_reply(canned_reply_id=id, operator=request.user.operator)
        except CannedReply.DoesNotExist:
            raise NotFound("No canned reply with this id.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)
