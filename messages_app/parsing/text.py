"""Strings and charsets: text the database accepts, header words, part payloads.

Pure functions, no Django. Each turns whatever a stranger's mail holds into text that
can be stored: no control bytes, no lone surrogates, no undecodable charset.
"""

from __future__ import annotations

import binascii
import codecs
import re
import unicodedata
from email.errors import MessageError
from email.header import decode_header, make_header
from typing import Any

# Column length of a kept header value; values are cut to fit.
MAX_HEADER_VALUE = 2000
# A file name is at most this long (the column and every file system allow it).
MAX_FILENAME = 255
# The longest extension kept when a long file name is shortened.
MAX_KEPT_EXTENSION = 16
# Key length of a cleaned JSON object.
MAX_JSON_KEY = 200

REQUEST_TOKEN = re.compile(r"\[#(\d{1,18})\]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidRawError(ValueError):
    """The `raw` field is not base64 of a message."""


def clean_text(value: str) -> str:
    """A string the database accepts: no NUL or other control bytes, no lone surrogates."""
    if not value:
        return ""
    if _SURROGATES.search(value):
        try:
            # Undecodable header bytes arrive as surrogate escapes: decode them for real.
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            value = _SURROGATES.sub("\ufffd", value)
    if "\x00" in value or _CONTROL.search(value):
        value = _CONTROL.sub("", value.replace("\x00", ""))
    return value


def clean_header_value(value: str) -> str:
    """One line of text safe for a header: control characters (CR, LF, ...) become spaces."""
    chars = (
        " " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char for char in value
    )
    return " ".join("".join(chars).split())


def one_line(value: str, limit: int) -> str:
    """Whitespace collapsed to single spaces, cut to `limit` characters."""
    return " ".join(clean_text(value).split())[:limit]


def clean_json(value: Any) -> Any:
    """A JSON value with every string made safe for the database."""
    if isinstance(value, str):
        return clean_text(value)[:MAX_HEADER_VALUE]
    if isinstance(value, dict):
        return {clean_text(str(k))[:MAX_JSON_KEY]: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/\s]*(?:=\s*){0,3}")
_URL_SAFE = str.maketrans("-_", "+/")
_WHITESPACE = (" ", "\t", "\r", "\n", "\f", "\v")


def decode_raw(value: str) -> bytes:
    """The bytes of a base64 `raw` field; standard or URL-safe alphabet, padding optional.

    Decoded in place, without copies of the text: a raw field may be 40 MiB.
    """
    if "-" in value or "_" in value:
        value = value.translate(_URL_SAFE)
    if not value.isascii() or not _BASE64_TEXT.fullmatch(value):
        raise InvalidRawError("This is not valid base64.")
    letters = len(value) - sum(value.count(space) for space in _WHITESPACE)
    padding = value.count("=")
    if not letters - padding:
        raise InvalidRawError("The message is empty.")
    if (letters - padding) % 4 == 1:
        raise InvalidRawError("This is not valid base64.")
    wanted = -(letters - padding) % 4
    if padding != wanted:
        value = value.rstrip().rstrip("=").rstrip() + "=" * wanted
    try:
        # Not strict: whitespace between the letters is skipped, as it always was.
        data = binascii.a2b_base64(value)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRawError("This is not valid base64.") from exc
    if not data.strip():
        raise InvalidRawError("The message is empty.")
    return data


def request_tokens(subject: str) -> list[int]:
    """Request ids named by `[#<id>]` tokens in a subject."""
    return [int(token) for token in REQUEST_TOKEN.findall(subject or "")]


def without_request_tokens(subject: str) -> str:
    """`subject` as one clean line with every request token `[#<id>]` taken out."""
    return clean_header_value(REQUEST_TOKEN.sub(" ", subject or ""))


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded; the value itself when they do not decode.

    `decode_header` raises HeaderParseError on bad base64, `Charset` CharsetError on a
    non-ASCII charset name (both MessageError), and decoding the words LookupError for an
    unknown or non-text codec and UnicodeError for bytes the charset does not hold.
    """
    try:
        return str(make_header(decode_header(value)))
    except (MessageError, LookupError, UnicodeError):
        return value


# Charset names mail clients write that Python's codecs do not know; "" means no charset.
_CHARSET_ALIASES = {
    "win-1251": "windows-1251",
    "win1251": "windows-1251",
    "cp-1251": "windows-1251",
    "x-cp1251": "windows-1251",
    "windows1251": "windows-1251",
    "koi8r": "koi8-r",
    "x-mac-cyrillic": "mac-cyrillic",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
}


def codec_name(charset: str | None) -> str | None:
    """Python's name of a declared charset (aliases and `x-` prefixes known), or None."""
    if not charset:
        return None
    charset = charset.strip().strip("\"'").lower()
    charset = _CHARSET_ALIASES.get(charset, charset)
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except (LookupError, ValueError):
        # Unknown names raise LookupError; a name holding a NUL raises ValueError.
        if charset.startswith("x-"):
            return codec_name(charset[2:])
        return None


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Text of a part: its declared charset, else UTF-8, else windows-1251 or Latin-1."""
    codec = codec_name(charset)
    if codec and codec not in ("ascii", "us-ascii"):
        try:
            return payload.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec:
        try:
            return payload.decode(codec, "replace")
        except (LookupError, ValueError):
            pass
    # Undeclared 8-bit text. Cyrillic words are runs of 8-bit bytes; Western text has
    # single accented letters between ASCII ones.
    runs = re.findall(rb"[\x80-\xff]+", payload)
    if runs and sum(map(len, runs)) >= 2 * len(runs):
        return payload.decode("windows-1251", "replace")
    return payload.decode("latin-1")


_PATH_SEPARATORS = re.compile(r"^.*[/\\]")
_FILENAME_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_filename(value: str, *, default: str = "attachment") -> str:
    """A file name to show and to send in Content-Disposition: encoded words decoded, any
    path and control or direction characters removed, at most 255 characters."""
    name = decode_words(clean_text(value or ""))
    name = _FILENAME_JUNK.sub("", clean_text(name))
    name = _PATH_SEPARATORS.sub("", name)
    name = " ".join(name.split()).strip(" .")
    if not name:
        return default
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= MAX_KEPT_EXTENSION:
            name = f"{stem[: MAX_FILENAME - 1 - len(extension)]}.{extension}"
        else:
            name = name[:MAX_FILENAME]
    return name
