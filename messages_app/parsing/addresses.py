"""Addresses, Message-IDs and dates read from header values.

Pure functions, no Django. Every reader takes what a stranger wrote and returns the
normalised value or raises InvalidAddressError (addresses) or returns an empty answer
(ids, dates).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from email_validator import EmailNotValidError, validate_email

from messages_app.parsing.headers import HEADER_ERRORS, POLICY
from messages_app.parsing.memo import bytes_bounded_cache
from messages_app.parsing.text import clean_text, decode_words, one_line

# Column lengths of the Message and SupportRequest models; values are cut to fit.
MAX_NAME = 200
MAX_MESSAGE_ID = 255
# The longest address SMTP carries (RFC 5321's path limit less its brackets).
MAX_ADDRESS = 254
# A References chain keeps its newest ids.
MAX_REFERENCES = 100
# Dates outside these years are errors of the sender's clock, not dates.
FIRST_YEAR, LAST_YEAR = 1970, 9000

NON_ASCII_LOCAL_PART = (
    "Enter an address with only ASCII characters before the @: mail to this one cannot be sent."
)
INVALID_ADDRESS = "Enter a valid email address."
# The domain of Message-IDs derived from a field-form item's content (it had none).
CONTENT_ID_DOMAIN = "content.servicedesk.invalid"

_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_CONTENT_FIELDS = (
    "user_email",
    "title",
    "description",
    "date",
    "in_reply_to",
    "references",
    "html",
)


class InvalidAddressError(ValueError):
    """No usable email address could be read."""


# --- addresses ---------------------------------------------------------------------


@bytes_bounded_cache()
def normalise_email(address: str) -> str:
    """A validated address in lower case; raises InvalidAddressError."""
    address = (address or "").strip()
    if not address or len(address) > MAX_ADDRESS:
        raise InvalidAddressError(INVALID_ADDRESS)
    try:
        # Without SMTPUTF8: a non-ASCII local part (`jöran@example.com`) could be stored
        # but never answered, since Django's mail and most relays cannot carry it.
        validated = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except (EmailNotValidError, UnicodeError, ValueError) as exc:
        if not address.rpartition("@")[0].isascii():
            raise InvalidAddressError(NON_ASCII_LOCAL_PART) from exc
        raise InvalidAddressError(INVALID_ADDRESS) from exc
    normalised = validated.normalized.lower()
    if len(normalised) > MAX_ADDRESS:
        raise InvalidAddressError(INVALID_ADDRESS)
    return normalised


def _address_candidates(value: str) -> Iterator[tuple[str, str]]:
    """(name, address) pairs read from a header value, most careful reading first.

    The header registry refuses malformed values (HEADER_ERRORS); `getaddresses` and
    `parseaddr` read anything.
    """
    try:
        header = POLICY.header_factory("from", value)
        addresses = [(a.display_name, a.addr_spec) for a in header.addresses]
    except HEADER_ERRORS:
        addresses = []
    yield from addresses
    yield from getaddresses([value])
    yield parseaddr(value)
    bare = _BARE_ADDRESS.search(value)
    if bare:
        yield "", bare.group(0)


@bytes_bounded_cache()
def parse_address(value: str) -> tuple[str, str]:
    """(display name, normalised address) of a `Name <addr>` or bare address string."""
    value = clean_text(value or "")
    message = INVALID_ADDRESS
    for name, address in _address_candidates(value):
        try:
            normalised = normalise_email(address)
        except InvalidAddressError as exc:
            if str(exc) == NON_ASCII_LOCAL_PART:
                message = NON_ASCII_LOCAL_PART
            continue
        if not name and "(" in value:
            # The old `addr (Name)` form: the comment is the name.
            name = parseaddr(value)[0]
        name = decode_words(name or "").strip().strip("\"'").strip()
        if name.lower() == normalised:
            name = ""
        return one_line(name, MAX_NAME), normalised
    raise InvalidAddressError(message)


# --- Message-IDs -------------------------------------------------------------------


def message_ids(value: str) -> list[str]:
    """Every Message-ID of a Message-ID, In-Reply-To or References value, in order, as
    `<id>` with the case it was written in (repeats kept).

    Without any `<id>`, what is left is read as bare ids: the whole value when it is one
    token, an id folded across lines (`<abc\\r\\n @x>`), else each token holding an `@`.
    Inbound mail and outbound threading headers both read ids here.
    """
    value = clean_text(value or "")
    found = _MESSAGE_ID.findall(value)
    if not found:
        single = value.strip().strip("<>").strip()
        if single and not any(ch.isspace() or ch in "<>" for ch in single):
            found = [single]
        elif "<" in value:
            found = _MESSAGE_ID.findall("".join(value.split()))
        if not found:
            found = [t.strip("<>") for t in value.replace(",", " ").split() if "@" in t]
    # An id keeps no angle bracket inside ("<0<@" is damage, not an id).
    return [f"<{inner}>" for inner in found if inner and "<" not in inner and ">" not in inner]


def _normalised(message_id: str) -> str:
    return f"<{message_id[1:-1].lower()[: MAX_MESSAGE_ID - 2]}>"


def normalise_message_id(value: str) -> str:
    """The first Message-ID in a header value as `<id>`, lower case, cut to its column."""
    ids = message_ids(value)
    return _normalised(ids[0]) if ids else ""


def parse_references(value: str) -> list[str]:
    """Every Message-ID in a References header, in order, each normalised, repeats
    dropped, the newest MAX_REFERENCES kept."""
    ids: dict[str, None] = {}  # ordered and de-duplicated in linear time
    for message_id in message_ids(value):
        ids.setdefault(_normalised(message_id))
    return list(ids)[-MAX_REFERENCES:]


def content_message_id(fields: Mapping[str, object]) -> str:
    """A stable Message-ID for a field-form item that has neither `id` nor `message_id`:
    the same sender, subject, text, date and thread headers give the same id."""
    content = json.dumps([str(fields.get(name) or "") for name in _CONTENT_FIELDS])
    digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
    return f"<{digest[:40]}@{CONTENT_ID_DOMAIN}>"


def is_content_message_id(message_id: str) -> bool:
    """True for an id `content_message_id` made up: no mail client knows it."""
    return message_id.rstrip(">").endswith("@" + CONTENT_ID_DOMAIN)


# --- dates -------------------------------------------------------------------------


def parse_date(value: str) -> datetime | None:
    """An aware datetime from an RFC 5322 or RFC 3339 date, or None."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        return None
    return parsed
