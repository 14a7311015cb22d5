"""Subjects without the pile-up of a mail conversation: reply and forward prefixes, the
wording of the service's own notices and old request tokens.

A reply to the "closed" notice arrives as "Re: Your request is closed: Printer is broken
[#1]"; the request it opens is about "Printer is broken".
"""

import functools
import re

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from messages_app.parsing.text import clean_header_value, without_request_tokens

# Reply and forward prefixes of common mail clients in English, German, the Nordic
# languages, Dutch, French, Italian, Polish, Spanish, Portuguese and Russian, with an
# optional count ("Re[2]:", "Re(3):", "Re^2:"), and full-width colons.
_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|aw|wg|sv|vs|antw|doorst|tr|rif|odp|pd|rv|enc|res|"
    r"ответ|отв|пересл|переслано|на)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]\s*",
    re.IGNORECASE,
)
_NOTICES = ("acknowledgement", "taken", "closed")
_MARKER = "\uf8ffsubject\uf8ff"


@functools.cache
def notice_prefixes() -> tuple[str, ...]:
    """What each notice's subject template puts before the request's subject, in every
    language the service speaks (lower case; a customised template is read as it is)."""
    prefixes = set()
    for language, _ in settings.LANGUAGES:
        with translation.override(language):
            for notice in _NOTICES:
                text = render_to_string(
                    f"messages_app/notices/{notice}_subject.txt", {"subject": _MARKER}
                )
                before, found, _ = clean_header_value(text).partition(_MARKER)
                if found and before.strip():
                    prefixes.add(before.strip().lower())
    # Longest first, so that one prefix never hides a longer one it begins.
    return tuple(sorted(prefixes, key=len, reverse=True))


def normalize_subject(subject: str) -> str:
    """The subject a request is about: without reply/forward prefixes, notice wording
    or request tokens, wherever they pile up."""
    text = without_request_tokens(subject)
    while True:
        before = text
        text = _PREFIX.sub("", text, count=1)
        lowered = text.lower()
        for prefix in notice_prefixes():
            if lowered.startswith(prefix):
                text = text[len(prefix) :].lstrip(" :")
                break
        if text == before:
            return text.strip()


def reply_subject(subject: str) -> str:
    """The subject of a reply about `subject`: one "Re: " before the normalized subject."""
    topic = normalize_subject(subject)
    return f"Re: {topic}" if topic else "Re:"
