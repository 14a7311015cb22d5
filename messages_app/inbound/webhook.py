"""The signed inbound webhook: `POST /api/v1/inbound/emails/` (see API.md).

The view checks, in order: the webhook is configured (503), the body's size (413), its
content type (415), the HMAC signature over `timestamp.body` (401), the JSON shape
(400) and the batch size (413). Only then does it validate each item on its own
(`messages_app.inbound.items`) and hand the batch to `ingest_batch`; a bad item is
reported `rejected` and never affects another. Its OpenAPI description is in
`messages_app.inbound.schema`.
"""

import io
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.http.request import UnreadablePostError
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messages_app.errors import (
    InvalidSignatureError,
    PayloadTooLargeError,
    WebhookNotConfiguredError,
)
from messages_app.inbound.ingest import ItemResult, Outcome, ingest_batch
from messages_app.inbound.items import batch_items
from messages_app.inbound.schema import inbound_emails_schema
from messages_app.inbound.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from servicedesk.metrics import record_ingest_outcomes
from servicedesk.renderers import JSONRenderer

JSON_MEDIA_TYPE = "application/json"


def signed_body(request: Request | HttpRequest) -> bytes:
    """The raw body of a configured, size-checked, JSON, correctly signed request."""
    secret = settings.INBOUND_WEBHOOK_SECRET
    if not secret:
        raise WebhookNotConfiguredError()
    cap = settings.INBOUND_MAX_BODY_BYTES
    too_large = PayloadTooLargeError(f"The request body is larger than {cap} bytes.")
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > cap:
        raise too_large
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.split(";")[0].strip().lower() != JSON_MEDIA_TYPE:
        raise exceptions.UnsupportedMediaType(
            content_type or "(none)",
            detail=f"Send the batch as {JSON_MEDIA_TYPE}, not '{content_type[:100]}'.",
        )
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large from None
    except (UnreadablePostError, OSError) as exc:
        raise exceptions.ParseError("The request body could not be read.") from exc
    if len(body) > cap:
        raise too_large
    if not verify_signature(
        secret=secret,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        tolerance=settings.INBOUND_SIGNATURE_TOLERANCE_SECONDS,
    ):
        raise InvalidSignatureError()
    return body


def release_body(request: Request | HttpRequest) -> None:
    """Drop the request's copy of a body that was read and parsed (Django keeps the bytes,
    and a stream over them, for the life of the request)."""
    django_request = getattr(request, "_request", request)
    django_request._body = b""
    django_request._stream = io.BytesIO(b"")


def summarise(results: list[ItemResult]) -> dict[str, int]:
    """How many items of a batch had each outcome."""
    counts = Counter(result.outcome for result in results)
    return {outcome.value: counts.get(outcome, 0) for outcome in Outcome}


def result_data(result: ItemResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "index": result.index,
        "id": result.external_id,
        "outcome": result.outcome.value,
    }
    if result.request_id is not None:
        data["request_id"] = result.request_id
        data["message_id"] = result.message_id
    if result.errors is not None:
        data["errors"] = result.errors
    return data


@inbound_emails_schema
class InboundEmailsApi(APIView):
    """The mail-forwarding script's entry point; signed with HMAC, not a user's credentials."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    # The view reads and verifies the raw body itself; the parser only documents the type.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def post(self, request: Request) -> Response:
        items = batch_items(signed_body(request), release=lambda: release_body(request))
        results = ingest_batch(items=items)
        summary = summarise(results)
        record_ingest_outcomes(summary)
        return Response({"results": [result_data(r) for r in results], "summary": summary})
