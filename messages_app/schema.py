"""The OpenAPI description of the messages and canned replies API (`messages_app.apis`):
what each view takes and answers, applied to the view classes with `extend_schema_view`."""

from drf_spectacular.utils import extend_schema, extend_schema_view

from messages_app.attachments import AttachmentsTooLargeError
from messages_app.serializers import (
    CannedReplySerializer,
    MessageSerializer,
    ReplyCreateSerializer,
    ReplyMultipartSerializer,
)
from requests_app.schema import REQUEST_NOT_FOUND, REQUEST_OR_PAGE_NOT_FOUND
from servicedesk.api import (
    NO_OPERATOR_PROFILE,
    PAGE_INVALID,
    PAGE_NOT_FOUND,
    UNAUTHENTICATED,
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

request_messages = extend_schema_view(
    get=extend_schema(
        operation_id="requests_messages_list",
        tags=TAGS,
        summary="List a request's messages",
        description="The request's messages, oldest first; paginated.",
        responses={
            200: MessageSerializer(many=True),
            400: PAGE_INVALID,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: REQUEST_OR_PAGE_NOT_FOUND,
        },
    ),
    post=extend_schema(
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
    ),
)

canned_reply_list = extend_schema_view(
    get=extend_schema(
        operation_id="canned_replies_list",
        tags=CANNED_TAGS,
        summary="List canned replies",
        description="Every canned reply, by title; paginated. Every operator reads them.",
        responses={
            200: CannedReplySerializer(many=True),
            400: PAGE_INVALID,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: PAGE_NOT_FOUND,
        },
    ),
    post=extend_schema(
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
    ),
)

canned_reply_detail = extend_schema_view(
    get=extend_schema(
        operation_id="canned_replies_retrieve",
        tags=CANNED_TAGS,
        summary="Get a canned reply",
        responses={
            200: CannedReplySerializer,
            401: UNAUTHENTICATED,
            403: NO_OPERATOR_PROFILE,
            404: CANNED_NOT_FOUND,
        },
    ),
    patch=extend_schema(
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
    ),
    delete=extend_schema(
        operation_id="canned_replies_destroy",
        tags=CANNED_TAGS,
        summary="Delete a canned reply",
        description="Its author or staff may delete it.",
        responses={204: None, 401: UNAUTHENTICATED, 403: NOT_AUTHOR, 404: CANNED_NOT_FOUND},
    ),
)
