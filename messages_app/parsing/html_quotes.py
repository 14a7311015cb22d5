"""Where HTML mail clients put quoted history, known from the markup alone.

The HTML-to-text step asks `quote_container` about every element it opens: the answer
tells it which text to mark as quoted (`> `), so the reply rules that work on text see
the quote whatever language its header is written in.
"""

from __future__ import annotations

# The "On ... wrote:" line above a quote (Gmail's `gmail_attr`, Thunderbird's
# `moz-cite-prefix`): quoted with the quote, unless it opens a forward.
ATTRIBUTION = "attribution"
# The header of the quoted message in Outlook on the web and Hotmail (`divRplyFwdMsg`,
# `appendonsend`, `stopSpelling`): it and everything after it are the quoted message.
REST = "rest"

_ATTRIBUTION_CLASSES = frozenset({"gmail_attr", "moz-cite-prefix"})
_REST_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "stopspelling"})
_REST_CLASSES = frozenset({"outlookmessageheader"})


def quote_container(tag: str, attrs: list[tuple[str, str | None]]) -> str | None:
    """ATTRIBUTION, REST or None for an element opened with these attributes."""
    if tag not in ("div", "hr", "span"):
        return None
    attributes = {name.lower(): (value or "") for name, value in attrs}
    classes = set(attributes.get("class", "").split())
    if tag == "div" and classes & _ATTRIBUTION_CLASSES:
        return ATTRIBUTION
    if attributes.get("id", "").lower() in _REST_IDS:
        return REST
    if {name.lower() for name in classes} & _REST_CLASSES:
        return REST
    return None
