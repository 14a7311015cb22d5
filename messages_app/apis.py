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
from requests_app.apis import require_request
from requests_app.models import SupportRequest
from requests_app.services import reply_to_request
from servicedesk.api import StrictJSONParser, validated
from servicedesk.api_views import PaginatedListApi


@schema.request_messages
class RequestMessagesApi(PaginatedListApi):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser, MultiPartParser]
    serializer_class = MessageSerializer

    def get_queryset(self):
        return list_request_messages(request_id=self.kwargs["id"])

    def get(self, request, id: int):
        require_request(id)
        return self.list(request)

    def post(self, request, id: int):
        require_request(id)
        refuse_oversized_upload(request)
        data = validated(ReplyCreateSerializer, request.data)
        canned_reply = None
        if "canned_reply" in data:
            canned_reply = get_canned_reply(canned_reply_id=data["canned_reply"])
            if canned_reply is None:
                raise ValidationError({"canned_reply": ["There is no canned reply with this id."]})
        files = uploaded_files(request, fields=("body", "subject", "canned_reply"))
        try:
            message = reply_to_request(
                request_id=id,
                operator=request.user.operator,
                body=data.get("body"),
                subject=data.get("subject") or None,
                attachments=files,
                canned_reply=canned_reply,
            )
        except SupportRequest.DoesNotExist:
            raise NotFound("No request with this id.") from None
        # The stored row as written: with in-process tasks (no broker) delivery may already
        # have run by now, but the answer describes the reply as queued.
        return Response(self.get_serializer(message).data, status=status.HTTP_201_CREATED)


@schema.canned_reply_list
class CannedReplyListApi(PaginatedListApi):
    permission_classes = [IsActiveOperator]
    serializer_class = CannedReplySerializer

    def get_queryset(self):
        return list_canned_replies()

    def post(self, request):
        data = validated(CannedReplySerializer, request.data)
        canned_reply = create_canned_reply(
            operator=request.user.operator, title=data["title"], body=data["body"]
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
        data = validated(CannedReplySerializer, request.data, partial=True)
        try:
            update_canned_reply(
                canned_reply_id=id,
                operator=request.user.operator,
                title=data.get("title"),
                body=data.get("body"),
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
