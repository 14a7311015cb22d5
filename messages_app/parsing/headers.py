"""The email policy every parse uses: `policy.default` with a memo of parsed headers.

The standard library re-parses a header on every access (the parser alone asks for
Content-Type several times per part), and parsing is pure Python. Header objects are
immutable, so the same (name, value) can share one; the memo is bounded by the bytes it
holds, since header values are written by strangers.
"""

from __future__ import annotations

from email import policy
from email.errors import MessageError
from email.headerregistry import BaseHeader, HeaderRegistry
from email.parser import BytesParser

from messages_app.parsing.memo import ByteBoundedMemo

# Values longer than this are parsed each time: long values are rare and costly to keep.
MAX_MEMO_VALUE = 2_000
MAX_MEMO_BYTES = 1024 * 1024


class MemoHeaderRegistry(HeaderRegistry):
    """policy.default's header registry, remembering parsed headers up to a total size."""

    def __init__(self, *, max_bytes: int = MAX_MEMO_BYTES) -> None:
        super().__init__()
        self.memo: ByteBoundedMemo[tuple[str, str], BaseHeader] = ByteBoundedMemo(
            max_bytes=max_bytes
        )

    def __call__(self, name: str, value: str) -> BaseHeader:
        if len(value) > MAX_MEMO_VALUE:
            return super().__call__(name, value)
        key = (name, value)
        header = self.memo.get(key)
        if header is None:
            header = super().__call__(name, value)
            self.memo.put(key, header)
        return header


HEADER_REGISTRY = MemoHeaderRegistry()
POLICY = policy.default.clone(header_factory=HEADER_REGISTRY)
PARSER = BytesParser(policy=POLICY)
# The policy for writing an attached message back out as it came.
KEEP_SOURCE = POLICY.clone(refold_source="none", max_line_length=0)

# What reading a header through the policy raises on a malformed value, found in CPython
# 3.11's email._header_value_parser and email.headerregistry and confirmed by fuzzing
# (test_parsing_fuzz.py): HeaderParseError (a MessageError) from the token parser,
# IndexError where it runs off the end of a value, AttributeError where its token tree
# lacks what AddressHeader asks of it, ValueError from Address() on parts holding CR or LF.
HEADER_ERRORS = (MessageError, IndexError, AttributeError, ValueError)
