"""The OpenAPI description of the messages and canned replies API (`messages_app.apis`) and of
the downloads (`messages_app.downloads`): what each view takes and answers, applied to the
view classes with `extend_schema_view`."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from messages_app.attachments import AttachmentsTooLargeError
from messages_app.serializers import (
    CannedReplySerializer,
    MessageSerializer,
    ReplyCreateSerializer,
    ReplyMultipartSerializer,
)
from requests_app.schema import (
    REQUEST_NOT_FOUND,
    REQUEST_OR_PAGE_NOT_FOUND,
    request_closed_response,
)
from servicedesk.schema import (
    body_validation_response,
    error_response,
    list_responses,
    not_found_response,
    not_permitted_response,
    operation,
    operator_responses,
    unsupported_media_response,
    validation_response,
)

TAGS = ["messages"]
CANNED_TAGS = ["canned replies"]
CANNED_NOT_FOUND = not_found_response("canned reply")
NOT_AUTHOR = not_permitted_response(
    "the caller is neither the author nor staff",
    "Only the author of a canned reply, or staff, may change it.",
)
FILES_TOO_LARGE = error_response(
    "The files are larger than OUTBOUND_ATTACHMENT_MAX_BYTES, one or all together.",
    (
        AttachmentsTooLargeError.code,
        "The attached files are larger than 10485760 bytes, one by one or together.",
    ),
)

request_messages = extend_schema_view(
    get=extend_schema(
        operation_id="requests_messages_list",
        tags=TAGS,
        summary="List a request's messages",
        description="The request's messages, oldest first; paginated.",
        responses=list_responses(MessageSerializer, not_found=REQUEST_OR_PAGE_NOT_FOUND),
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
        responses=operator_responses(
            {201: MessageSerializer},
            invalid=body_validation_response(
                "The body is missing or empty, or a field is too long; or the request body is "
                "not a JSON object.",
                {"body": ["This field may not be blank."]},
            ),
            not_found=REQUEST_NOT_FOUND,
            conflict=request_closed_response("A closed request cannot receive replies."),
            more={
                413: FILES_TOO_LARGE,
                415: unsupported_media_response(
                    "The body is neither JSON nor multipart/form-data."
                ),
            },
        ),
    ),
)

canned_reply_list = extend_schema_view(
    get=extend_schema(
        operation_id="canned_replies_list",
        tags=CANNED_TAGS,
        summary="List canned replies",
        description="Every canned reply, by title; paginated. Every operator reads them.",
        responses=list_responses(CannedReplySerializer),
    ),
    post=extend_schema(
        operation_id="canned_replies_create",
        tags=CANNED_TAGS,
        summary="Create a canned reply",
        request=CannedReplySerializer,
        responses=operator_responses(
            {201: CannedReplySerializer},
            invalid=body_validation_response(
                "A title or body is missing, empty or too long.",
                {"title": ["This field may not be blank."]},
            ),
        ),
    ),
)

canned_reply_detail = extend_schema_view(
    get=extend_schema(
        operation_id="canned_replies_retrieve",
        tags=CANNED_TAGS,
        summary="Get a canned reply",
        responses=operator_responses({200: CannedReplySerializer}, not_found=CANNED_NOT_FOUND),
    ),
    patch=extend_schema(
        operation_id="canned_replies_partial_update",
        tags=CANNED_TAGS,
        summary="Change a canned reply",
        description="Its author or staff may change the title or the body.",
        request=CannedReplySerializer(partial=True),
        responses=operator_responses(
            {200: CannedReplySerializer},
            invalid=body_validation_response(
                "A title or body is empty or too long.", {"body": ["This field may not be blank."]}
            ),
            forbidden=NOT_AUTHOR,
            not_found=CANNED_NOT_FOUND,
        ),
    ),
    delete=extend_schema(
        operation_id="canned_replies_destroy",
        tags=CANNED_TAGS,
        summary="Delete a canned reply",
        description="Its author or staff may delete it.",
        responses=operator_responses({204: None}, forbidden=NOT_AUTHOR, not_found=CANNED_NOT_FOUND),
    ),
)

attachment_download = operation(
    "get",
    "attachments_download",
    tags=["attachments"],
    summary="Download an attachment",
    description=(
        "The file's bytes, streamed. `Content-Type` is the declared type, except that "
        "types a browser would run or render as a document (HTML, XHTML, SVG, XML, "
        "JavaScript, anything unknown) are served as `application/octet-stream`. "
        "Always `Content-Disposition: attachment` with an ASCII `filename` and a UTF-8 "
        "`filename*`, `X-Content-Type-Options: nosniff`, `Content-Security-Policy: "
        "default-src 'none'; sandbox` and `ETag: \"<sha256>\"`. `If-None-Match` with "
        "that tag answers 304; a single `Range: bytes=a-b` answers 206."
    ),
    parameters=[
        OpenApiParameter(
            "disposition",
            OpenApiTypes.STR,
            enum=["attachment", "inline"],
            description="`inline` shows PNG, JPEG, GIF, WebP and PDF files in the "
            "browser; every other type stays `attachment`.",
        ),
        OpenApiParameter(
            "Range",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            description="A single byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n`.",
        ),
        OpenApiParameter(
            "If-None-Match",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            description="The ETag of a copy the client holds; 304 when it is current.",
        ),
    ],
    responses=operator_responses(
        {
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The whole file."
            ),
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The requested byte range (`Content-Range: bytes a-b/size`).",
            ),
            304: OpenApiResponse(description="The client's copy (If-None-Match) is current."),
        },
        invalid=validation_response(
            "A query parameter is given twice.", {"disposition": ["Give this parameter once."]}
        ),
        not_found=error_response(
            "There is no such attachment, or it was omitted and has no bytes.",
            ("not_found", "No attachment with this id."),
        ),
        more={
            416: error_response(
                "The range starts past the end of the file (`Content-Range: bytes */size`).",
                ("range_not_satisfiable", "The range is outside the file of 70 bytes."),
            )
        },
    ),
)

raw_message_download = operation(
    "get",
    "messages_raw",
    tags=TAGS,
    summary="Download a message's raw mail",
    description=(
        "The original RFC 822 bytes of an inbound mail as it arrived (kept for every "
        "mail that came in the raw form), as an attachment named `message-<id>.eml`."
    ),
    responses=operator_responses(
        {
            (200, "message/rfc822"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The mail's bytes."
            )
        },
        not_found=error_response(
            "There is no such message, or its raw bytes are not kept.",
            ("not_found", "No raw mail is kept for this message."),
        ),
    ),
)
