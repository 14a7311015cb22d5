"""Operators' HTTP API for a request's messages (the thread, replying to the requester) and
canned replies."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from messages_app.attachments import (
    AttachmentsTooLargeError,
    refuse_oversized_upload,
    uploaded_files,
)
from messages_app.canned import create_canned_reply, delete_canned_reply, update_canned_reply
from messages_app.models import CannedReply
from messages_app.selectors import get_canned_reply, list_canned_replies, list_request_messages
from messages_app.serializers import (
    CannedReplySerializer,
    MessageSerializer,
    ReplyCreateSerializer,
    ReplyMultipartSerializer,
)
from operators_app.permissions import IsActiveOperator
from requests_app.apis import PAGE_INVALID
from requests_app.models import SupportRequest
from requests_app.selectors import request_exists
from requests_app.services import reply_to_request
from servicedesk.api import (
    NO_OPERATOR_PROFILE,
    UNAUTHENTICATED,
    PageNumberPagination,
    StrictJSONParser,
    error_response,
    validation_response,
)

TAGS = ["messages"]
CANNED_TAGS = ["canned replies"]
CANNED_NOT_FOUND = error_response(
    "There is no canned reply with this id.", ("not_found", "No canned reply with this id.")
)
NOT_AUTHOR = error_response(
    "No operator profile, or the caller is neither the author nor staff.",
    ("no_operator_profile", "This user has no active operator profile."),
    ("permission_denied", "Only the author of a canned reply, or staff, may change it."),
)
REQUEST_NOT_FOUND = error_response(
    "There is no request with this id.", ("not_found", "No request with this id.")
)


class RequestMessagesApi(generics.GenericAPIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser, MultiPartParser]
    pagination_class = PageNumberPagination
    serializer_class = MessageSerializer
    filter_backends = []

    def get_queryset(self):
        return list_request_messages(request_id=self.kwargs["id"])

    @extend_schema(
        operation_id="requests_messages_list",
        tags=TAGS,
        summary="List a request's messages",
        description="The request's messages, oldest first; paginated.",
        responses={
            200: MessageSerializer(many=True),
            400: validation_response(
                "`page` or `page_size` is not a positive whole number.",
                {"page_size": ["Enter a whole number from 1 to 200."]},
            ),
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: error_response(
                "There is no request with this id, or the page is past the last one.",
                ("not_found", "No request with this id."),
                ("not_found", "Invalid page."),
            ),
        },
    )
    def get(self, request, id: int):
        if not request_exists(request_id=id):
            raise NotFound("No request with this id.")
        page = self.paginate_queryset(self.get_queryset())
        context = self.get_serializer_context()
        return self.get_paginated_response(MessageSerializer(page, many=True, context=context).data)

    @extend_schema(
        operation_id="requests_messages_create",
        tags=TAGS,
        summary="Reply to the requester",
        description=(
            "Stores an operator's reply and queues it for delivery to the request's "
            "requester (the recipient cannot be chosen). Answers the message with "
            "`delivery_status` `pending`. With `canned_reply` and no `body`, sends that canned "
            "reply filled in for this request and the caller. As `multipart/form-data` it also "
            "takes files under `attachments` (at most OUTBOUND_ATTACHMENT_MAX_COUNT, default 20, "
            "and OUTBOUND_ATTACHMENT_MAX_BYTES, default 10 MiB, all together); the mail goes out "
            "with them attached."
        ),
        request={
            "application/json": ReplyCreateSerializer,
            "multipart/form-data": ReplyMultipartSerializer,
        },
        responses={
            201: MessageSerializer,
            400: validation_response(
                "The body is missing or empty, or a field is too long; or the request body is "
                "not a JSON object.",
                {"body": ["This field may not be blank."]},
                body=True,
            ),
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: REQUEST_NOT_FOUND,
            409: error_response(
                "The request is closed.",
                ("invalid_transition", "A closed request cannot receive replies."),
            ),
            413: error_response(
                "The files are larger than OUTBOUND_ATTACHMENT_MAX_BYTES, one or all together.",
                (
                    AttachmentsTooLargeError.code,
                    "The attached files are larger than 10485760 bytes, one by one or together.",
                ),
            ),
            415: error_response(
                "The body is neither JSON nor multipart/form-data.",
                ("unsupported_media_type", 'Unsupported media type "text/plain" in request.'),
            ),
        },
    )
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


class CannedReplyListApi(generics.GenericAPIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]
    pagination_class = PageNumberPagination
    serializer_class = CannedReplySerializer
    filter_backends = []

    def get_queryset(self):
        return list_canned_replies()

    @extend_schema(
        operation_id="canned_replies_list",
        tags=CANNED_TAGS,
        summary="List canned replies",
        description="Every canned reply, by title; paginated. Every operator reads them.",
        responses={
            200: CannedReplySerializer(many=True),
            400: PAGE_INVALID,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: error_response("The page is past the last one.", ("not_found", "Invalid page.")),
        },
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CannedReplySerializer(page, many=True).data)

    @extend_schema(
        operation_id="canned_replies_create",
        tags=CANNED_TAGS,
        summary="Create a canned reply",
        request=CannedReplySerializer,
        responses={
            201: CannedReplySerializer,
            400: validation_response(
                "A title or body is missing, empty or too long.",
                {"title": ["This field may not be blank."]},
                body=True,
            ),
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
        },
    )
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


class CannedReplyDetailApi(generics.GenericAPIView):
    permission_classes = [IsActiveOperator]
    parser_classes = [StrictJSONParser]
    serializer_class = CannedReplySerializer
    filter_backends = []

    def _get(self, id: int) -> CannedReply:
        canned_reply = get_canned_reply(canned_reply_id=id)
        if canned_reply is None:
            raise NotFound("No canned reply with this id.")
        return canned_reply

    @extend_schema(
        operation_id="canned_replies_retrieve",
        tags=CANNED_TAGS,
        summary="Get a canned reply",
        responses={
            200: CannedReplySerializer,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: CANNED_NOT_FOUND,
        },
    )
    def get(self, request, id: int):
        return Response(CannedReplySerializer(self._get(id)).data)

    @extend_schema(
        operation_id="canned_replies_partial_update",
        tags=CANNED_TAGS,
        summary="Change a canned reply",
        description="Its author or staff may change the title or the body.",
        request=CannedReplySerializer(partial=True),
        responses={
            200: CannedReplySerializer,
            400: validation_response(
                "A title or body is empty or too long.",
                {"body": ["This field may not be blank."]},
                body=True,
            ),
            401: UNAUTHENTICATED,
            403: NOT_AUTHOR,
            404: CANNED_NOT_FOUND,
        },
    )
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

    @extend_schema(
        operation_id="canned_replies_destroy",
        tags=CANNED_TAGS,
        summary="Delete a canned reply",
        description="Its author or staff may delete it.",
        responses={204: None, 401: UNAUTHENTICATED, 403: NOT_AUTHOR, 404: CANNED_NOT_FOUND},
    )
    def delete(self, request, id: int):
        try:
            delete_canned_reply(canned_reply_id=id, operator=request.user.operator)
        except CannedReply.DoesNotExist:
            raise NotFound("No canned reply with this id.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)
