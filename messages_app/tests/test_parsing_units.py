"""Units of messages_app.parsing: the byte-bounded memos and the Message-ID reader.

Pure functions, no database. Each assertion states an outcome a caller relies on.
"""

import gc
import tracemalloc

import pytest

from messages_app.parsing import addresses
from messages_app.parsing.addresses import (
    InvalidAddressError,
    message_ids,
    normalise_message_id,
    parse_address,
    parse_references,
)
from messages_app.parsing.headers import (
    HEADER_REGISTRY,
    MAX_MEMO_BYTES,
    MAX_MEMO_VALUE,
    POLICY,
    MemoHeaderRegistry,
)
from messages_app.parsing.memo import ByteBoundedMemo, bytes_bounded_cache, deep_size

MIB = 1024 * 1024


# --- memos bounded by bytes --------------------------------------------------------


def _long_header(number: int) -> str:
    """A distinct address header just under the length the registry remembers."""
    name = f"Sender {number} " + "x" * (MAX_MEMO_VALUE - 60)
    return f'"{name}" <jane{number}@example.com>'


def test_header_memo_stays_under_its_cap_whatever_the_headers():
    cap = 64 * 1024
    registry = MemoHeaderRegistry(max_bytes=cap)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for number in range(300):
            header = registry("From", _long_header(number))
            assert header.addresses[0].addr_spec == f"jane{number}@example.com"
        del header
        gc.collect()
        held = sum(
            stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename")
        )
    finally:
        tracemalloc.stop()
    assert registry.memo.size <= cap
    assert 0 < len(registry.memo) < 300
    # What the process really holds, measured by the allocator, not by the memo's account.
    assert held < 2 * cap


def test_the_policy_remembers_headers_up_to_one_mebibyte():
    assert HEADER_REGISTRY.memo.max_bytes == MAX_MEMO_BYTES == MIB
    assert POLICY.header_factory is HEADER_REGISTRY


def test_header_memo_returns_the_same_header_for_the_same_value():
    registry = MemoHeaderRegistry()
    first = registry("Subject", "Printer on fire")
    assert registry("Subject", "Printer on fire") is first
    assert registry("subject", "Printer on fire") is not first
    assert str(first) == "Printer on fire"


def test_header_memo_leaves_out_values_longer_than_it_remembers():
    registry = MemoHeaderRegistry()
    long_value = "x" * (MAX_MEMO_VALUE + 1)
    assert str(registry("Subject", long_value)) == long_value
    assert len(registry.memo) == 0
    registry("Subject", "x" * MAX_MEMO_VALUE)
    assert len(registry.memo) == 1


def test_memo_drops_the_least_recently_used_entry_first():
    memo: ByteBoundedMemo[str, str] = ByteBoundedMemo(max_bytes=3 * deep_size("a" * 100) + 300)
    memo.put("a", "a" * 100)
    memo.put("b", "b" * 100)
    assert memo.get("a") == "a" * 100  # now "b" is the oldest
    memo.put("c", "c" * 100)
    memo.put("d", "d" * 100)
    assert memo.get("b") is None
    assert memo.get("a") == "a" * 100
    assert memo.get("d") == "d" * 100
    assert memo.size <= memo.max_bytes


def test_memo_accounts_for_replaced_and_cleared_entries():
    memo: ByteBoundedMemo[str, str] = ByteBoundedMemo(max_bytes=MIB)
    memo.put("k", "v" * 1000)
    memo.put("k", "w")
    assert memo.size == deep_size("k") + deep_size("w")
    assert memo.get("k") == "w"
    memo.clear()
    assert (memo.size, len(memo), memo.get("k")) == (0, 0, None)


def test_memo_skips_an_entry_larger_than_an_entry_may_be():
    memo: ByteBoundedMemo[str, str] = ByteBoundedMemo(max_bytes=MIB, max_entry_bytes=1000)
    memo.put("big", "x" * 1000)
    memo.put("small", "x" * 100)
    assert memo.get("big") is None
    assert memo.get("small") == "x" * 100
    assert memo.max_entry_bytes == 1000
    assert ByteBoundedMemo(max_bytes=500, max_entry_bytes=1000).max_entry_bytes == 500


def test_deep_size_counts_what_a_value_holds_once():
    text = "x" * 10_000
    assert deep_size(text) >= 10_000
    assert deep_size([text, text]) < 2 * deep_size(text)
    assert deep_size({"k": [text]}) > deep_size(text)
    assert deep_size((text, "y" * 10_000)) > 2 * 10_000


def test_cached_function_is_called_once_per_argument_and_never_for_errors():
    calls = []

    @bytes_bounded_cache(max_bytes=MIB)
    def shout(value: str) -> str:
        calls.append(value)
        if not value:
            raise ValueError("empty")
        return value.upper()

    assert shout("a") == "A"
    assert shout("a") == "A"
    assert calls == ["a"]
    for _ in range(2):
        with pytest.raises(ValueError, match="empty"):
            shout("")
    assert calls == ["a", "", ""]
    assert shout.__name__ == "shout"


def test_address_memos_stay_under_their_cap_on_long_distinct_addresses():
    for number in range(100):
        name = f"Name {number} " + "n" * 12_000
        assert parse_address(f'"{name}" <jane{number}@example.com>')[1] == (
            f"jane{number}@example.com"
        )
    assert parse_address.memo.size <= MIB
    assert addresses.normalise_email.memo.size <= MIB


# --- Message-IDs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<A@x> <b@Y>", ["<A@x>", "<b@Y>"]),
        ("<a@x>\r\n <a@x>", ["<a@x>", "<a@x>"]),
        ("abc@example.com", ["<abc@example.com>"]),
        ("  <abc@example.com  ", ["<abc@example.com>"]),
        ("abc", ["<abc>"]),
        ("<abc\r\n @example.com>", ["<abc@example.com>"]),
        ("a@x, b@x", ["<a@x>", "<b@x>"]),
        ("a@x (Jane's message)", ["<a@x>"]),
        ("not a message id", []),
        ("a<b", []),
        # A bracket left inside a bare token is damage, not an id (found by Hypothesis).
        ("<0<@", []),
        ("x<y@z w@v", ["<w@v>"]),
        ("<>", []),
        ("", []),
        (None, []),
        ("<a\x00b@x>", ["<ab@x>"]),
    ],
)
def test_message_ids_reads_bracketed_and_bare_ids_in_order(value, expected):
    assert message_ids(value) == expected


def test_outbound_and_inbound_read_the_same_ids():
    value = "<Root@x> <Latest@x>"
    assert [i.lower() for i in message_ids(value)] == parse_references(value)
    assert normalise_message_id(value) == parse_references(value)[0]


def test_references_keep_the_newest_hundred():
    value = " ".join(f"<r{i}@x>" for i in range(150))
    references = parse_references(value)
    assert len(references) == addresses.MAX_REFERENCES == 100
    assert references[0] == "<r50@x>"
    assert references[-1] == "<r149@x>"


def test_a_message_id_is_cut_to_its_column_with_its_brackets():
    normalised = normalise_message_id("<" + "A" * 300 + ">")
    assert normalised == "<" + "a" * 253 + ">"
    assert len(normalised) == addresses.MAX_MESSAGE_ID


def test_invalid_address_says_why():
    with pytest.raises(InvalidAddressError, match="valid email"):
        parse_address("nobody")
    with pytest.raises(InvalidAddressError, match="ASCII"):
        parse_address("jöran@example.com")


def test_cached_function_keeps_its_memo_with_the_limits_given():
    @bytes_bounded_cache(max_bytes=5000, max_entry_bytes=200)
    def echo(value: str) -> str:
        return value

    assert echo("short") == "short"
    assert echo("x" * 500) == "x" * 500
    assert (echo.memo.max_bytes, echo.memo.max_entry_bytes) == (5000, 200)
    assert len(echo.memo) == 1
    assert echo.memo.get("short") == "short"
