"""The parts of a MIME message: walking them, and what each part holds.

Pure functions over `email.message.Message` trees, no Django. A malformed part reads as
the next best thing (no file name, a default content type, its raw payload), never as an
error: `messages_app.parsing.mime` puts the answers together.
"""

from __future__ import annotations

import binascii
import mimetypes
import re
from collections.abc import Iterator
from email.message import Message

from messages_app.parsing.headers import HEADER_ERRORS, KEEP_SOURCE, PARSER
from messages_app.parsing.html import html_to_text
from messages_app.parsing.text import (
    MAX_HEADER_VALUE,
    clean_text,
    decode_bytes,
    decode_words,
    one_line,
)

# Parse budget: decoding a header costs more than linear time in its encoded words, so a
# header is decoded from its first MAX_RAW_HEADER characters (what is kept is cut to its
# column anyway).
MAX_RAW_HEADER = 16_000
# Parts nested deeper than this are not walked.
MAX_DEPTH = 20
# An attached message's parts are walked from this depth: they get half the budget.
ATTACHED_DEPTH = 10
MAX_CONTENT_ID = 255
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_BOUNDARY_LINE = re.compile(rb"^--([ -~]{1,70}?)[ \t]*\r?$", re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def raw_headers(msg: Message) -> dict[str, str]:
    """Lower-cased header name to its first raw (undecoded) value."""
    raw: dict[str, str] = {}
    for key, value in msg.raw_items():
        raw.setdefault(str(key).lower(), str(value))
    return raw


def header_text(msg: Message, raw: dict[str, str], name: str) -> str:
    """A header as decoded text; malformed values fall back to a best-effort decoding."""
    value = raw.get(name.lower())
    if value is None:
        return ""
    if value.isascii() and "=?" not in value:
        # Nothing to decode: unfolding is all policy.default would do to this value.
        return clean_text(" ".join(value.split()))
    if len(value) > MAX_RAW_HEADER:
        head = value[:MAX_RAW_HEADER]
        return clean_text(decode_words((head.rsplit(None, 1) or [""])[0]))
    try:
        return clean_text(str(msg.get(name, "")))
    except HEADER_ERRORS:
        return clean_text(decode_words(value))


def content_type(part: Message) -> str:
    """The part's content type; a default one when its header does not parse."""
    try:
        return part.get_content_type()
    except HEADER_ERRORS:
        return DEFAULT_CONTENT_TYPE


def disposition(part: Message) -> str:
    """The part's disposition (`attachment`, `inline`) in lower case, or ""."""
    try:
        return (part.get_content_disposition() or "").lower()
    except HEADER_ERRORS:
        return ""


def part_text(part: Message) -> str:
    """The text a part carries, decoded from its transfer encoding and its charset."""
    try:
        payload = part.get_payload(decode=True)
    except HEADER_ERRORS:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        if isinstance(raw, str):
            payload = raw.encode("utf-8", "surrogateescape")
        else:
            return ""
    try:
        charset = part.get_content_charset()
    except HEADER_ERRORS:
        charset = None
    return clean_text(decode_bytes(payload, charset))


def filename(part: Message) -> str:
    """The file name a part declares, as written (RFC 2231 decoded), or ""."""
    try:
        return part.get_filename() or ""
    except HEADER_ERRORS:
        try:
            return str(part.get_param("name") or "")
        except HEADER_ERRORS:
            return ""


def is_attachment(part: Message) -> bool:
    """True for a part the sender attached as a file (by disposition or a file name)."""
    if disposition(part) == "attachment":
        return True
    try:
        return bool(part.get_filename())
    except HEADER_ERRORS:
        return False


def content_id(part: Message) -> str:
    """The part's Content-ID without its angle brackets, or ""."""
    try:
        value = str(part.get("Content-ID", "") or "")
    except HEADER_ERRORS:
        return ""
    return one_line(value, 2 * MAX_CONTENT_ID).strip().strip("<>").strip()[:MAX_CONTENT_ID]


def _guess_boundary(part: Message) -> Message | None:
    """A `multipart` part whose boundary is missing, re-read with the first `--` line as one."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return None
    data = payload.encode("utf-8", "surrogateescape")
    match = _BOUNDARY_LINE.search(data)
    if not match or data.count(b"--" + match.group(1)) < 2 or b'"' in match.group(1):
        return None
    head = b'Content-Type: multipart/mixed; boundary="' + match.group(1) + b'"\r\n\r\n'
    guessed = PARSER.parsebytes(head + data)
    parts = guessed.get_payload()
    return guessed if isinstance(parts, list) and parts else None


def walk(msg: Message, depth: int = 0) -> Iterator[Message]:
    """Leaf parts in document order. An attached message is one leaf; a `multipart` without
    a usable boundary is re-read with a guessed one, else it is a leaf of text."""
    if depth > MAX_DEPTH:
        return
    kind = content_type(msg)
    if depth and kind.startswith("message/"):
        yield msg
    elif msg.is_multipart():
        payload = msg.get_payload()
        if not isinstance(payload, list):
            return
        for part in payload:
            if isinstance(part, Message):
                yield from walk(part, depth + 1)
    elif kind.startswith("multipart/"):
        guessed = _guess_boundary(msg)
        if guessed is not None and depth < MAX_DEPTH:
            yield from walk(guessed, depth + 1)
        else:
            yield msg
    else:
        yield msg


# The common types' extensions are fixed here: `mimetypes` also reads the machine's
# mime.types, which differs between hosts.
_EXTENSIONS = {
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "text/plain": ".txt",
    "text/html": ".html",
    "image/jpeg": ".jpg",
}


def default_filename(kind: str, number: int) -> str:
    """`attachment-<number>` with the extension of a content type."""
    extension = _EXTENSIONS.get(kind) or mimetypes.guess_extension(kind, strict=False) or ".bin"
    return f"attachment-{number}{extension}"


def attached_message(part: Message) -> Message | None:
    """The message a `message/*` part holds, or None."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def part_bytes(part: Message, kind: str) -> bytes:
    """The bytes a part carries: decoded from its transfer encoding; an attached message
    as a whole RFC 822 message."""
    if kind.startswith("message/"):
        inner = attached_message(part)
        if inner is not None and kind in ("message/rfc822", "message/global"):
            return inner.as_bytes(policy=KEEP_SOURCE)
        whole = part.as_bytes(policy=KEEP_SOURCE)
        split = _HEADER_END.search(whole)
        return whole[split.end() :] if split else b""
    raw = part.get_payload()
    try:
        encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    except HEADER_ERRORS:
        encoding = ""
    if isinstance(raw, str) and encoding == "base64" and raw.isascii():
        # The standard library splits the text into lines and joins them again first:
        # three copies of a file that may be 25 MiB. Line breaks are skipped here instead.
        try:
            return binascii.a2b_base64(raw)
        except (binascii.Error, ValueError):
            pass
    try:
        payload = part.get_payload(decode=True)
    except HEADER_ERRORS:
        payload = None
    # Only a multipart has no bytes of its own, and the walk reads those as text.
    return payload if isinstance(payload, bytes) else b""


def message_text(msg: Message) -> str:
    """The readable text of an attached message: its headers that matter and its body."""
    raw = raw_headers(msg)
    lines = [
        f"{name}: {value}"
        for name in ("From", "Date", "Subject", "To")
        if (value := one_line(header_text(msg, raw, name), MAX_HEADER_VALUE))
    ]
    plain: str | None = None
    html: str | None = None
    for part in walk(msg, ATTACHED_DEPTH):
        kind = content_type(part)
        if is_attachment(part):
            continue
        if kind == "text/plain" and plain is None:
            plain = part_text(part)
        elif kind == "text/html" and html is None:
            html = part_text(part)
    text = (plain or "").strip() or html_to_text(html or "")
    return "\n".join(lines) + ("\n\n" + text if text else "")
