"""Operators' downloads: an attachment's bytes and a message's raw mail (see API.md).

Every file is served as a download an attacker cannot turn into a page of this site:
types a browser would run or render are served as application/octet-stream, always
with `nosniff` and a sandboxing CSP, and `inline` only for images and PDF on request.
Files are streamed from storage; a single byte range answers 206.
"""

import re
import unicodedata
from urllib.parse import quote

from django.http import FileResponse, HttpResponse
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from messages_app import schema
from messages_app.attachments import CHUNK, INLINE_TYPES, open_raw, open_stream
from messages_app.selectors import get_attachment, get_raw_message
from operators_app.permissions import IsActiveOperator
from servicedesk.renderers import JSONRenderer

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
}
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d{0,19})\s*-\s*(\d{0,19})\s*$", re.IGNORECASE)
_UNSATISFIABLE = object()
# RFC 8187 attr-char besides letters and digits.
_ATTR_CHARS = "!#$&+-.^_`|~"


class _Stream:
    """A readable stream FileResponse must not measure or seek (it would read it twice)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def close(self) -> None:
        self.stream.close()


class StreamedFileResponse(FileResponse):
    block_size = CHUNK


class AnyAcceptNegotiation(BaseContentNegotiation):
    """A download answers whatever the client accepts (a browser asks for `image/*` or
    `application/pdf`); errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DownloadApi(APIView):
    permission_classes = [IsActiveOperator]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAcceptNegotiation


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """`attachment` (or `inline`) with an ASCII `filename` and the exact UTF-8 `filename*`."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = re.sub(r'[^\x20-\x7e]|["\\%;]', "_", fallback).strip()
    stem, dot, extension = fallback.rpartition(".")
    if not dot:
        stem, extension = fallback, ""
    if not stem.strip(" ._-"):
        fallback = f"attachment.{extension}" if extension.strip(" ._-") else "attachment"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe=_ATTR_CHARS)}"


def parse_range(header: str, size: int):
    """(start, end) of a single satisfiable byte range, `_UNSATISFIABLE`, or None to serve
    the whole file (no header, several ranges, or a malformed one: RFC 9110 ignores it)."""
    match = _RANGE.match(header or "")
    if not match or not (match.group(1) or match.group(2)):
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None
        if start >= size:
            return _UNSATISFIABLE
        return start, min(end, size - 1)
    suffix = int(last)
    if suffix == 0 or size == 0:
        return _UNSATISFIABLE
    return max(size - suffix, 0), size - 1


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match against our tag (weak comparison, as RFC 9110 asks for it)."""
    tags = [tag.strip() for tag in (header or "").split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


@schema.attachment_download
class AttachmentDownloadApi(DownloadApi):
    def get(self, request, id: int):
        attachment = get_attachment(attachment_id=id)
        if attachment is None or attachment.omitted or not attachment.storage_key:
            raise NotFound("No attachment with this id.")
        etag = f'"{attachment.sha256}"'
        size = attachment.size
        headers = {**SECURITY_HEADERS, "ETag": etag, "Accept-Ranges": "bytes"}
        if etag_matches(request.headers.get("If-None-Match", ""), etag):
            return HttpResponse(status=304, headers=headers)
        wanted = request.headers.get("Range", "")
        if_range = request.headers.get("If-Range")
        byte_range = parse_range(wanted, size) if wanted and if_range in (None, etag) else None
        if byte_range is _UNSATISFIABLE:
            return Response(
                {
                    "detail": f"The range is outside the file of {size} bytes.",
                    "code": "range_not_satisfiable",
                },
                status=416,
                headers={**headers, "Content-Range": f"bytes */{size}"},
            )
        content_type = attachment.served_content_type
        inline = request.query_params.get("disposition") == "inline" and (
            content_type in INLINE_TYPES
        )
        headers["Content-Disposition"] = content_disposition(attachment.filename, inline=inline)
        try:
            if byte_range is None:
                stream = open_stream(attachment.storage_key)
                status, length = 200, size
            else:
                start, end = byte_range
                length = end - start + 1
                stream = open_stream(attachment.storage_key, start=start, length=length)
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        except FileNotFoundError:
            raise NotFound("The attachment's file is missing from storage.") from None
        response = StreamedFileResponse(_Stream(stream), status=status, content_type=content_type)
        for name, value in headers.items():
            response[name] = value
        response["Content-Length"] = str(length)
        return response


@schema.raw_message_download
class RawMessageApi(DownloadApi):
    def get(self, request, id: int):
        message = get_raw_message(message_id=id)
        if message is None:
            raise NotFound("No raw mail is kept for this message.")
        try:
            stream = open_raw(message.raw_key)
        except FileNotFoundError:
            raise NotFound("The raw mail is missing from storage.") from None
        response = StreamedFileResponse(_Stream(stream), content_type="message/rfc822")
        for name, value in SECURITY_HEADERS.items():
            response[name] = value
        response["Content-Disposition"] = content_disposition(f"message-{message.pk}.eml")
        if message.raw_size is not None:
            response["Content-Length"] = str(message.raw_size)
        return response
