"""Header values as one clean line: shared by the subjects the parser reads and the mail
the outbox writes (pure: no Django, no models)."""

import unicodedata

# Control and format characters, line and paragraph separators: nothing a header keeps.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def clean_header_value(value: str) -> str:
    """One line of text safe for a header: control characters (CR, LF, ...) become spaces."""
    chars = (" " if unicodedata.category(char) in _UNSAFE_CATEGORIES else char for char in value)
    return " ".join("".join(chars).split())
