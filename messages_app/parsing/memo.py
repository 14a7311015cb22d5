"""A least-recently-used memo bounded by the bytes it holds, not by its entries.

Parsed headers and addresses are remembered because the standard library re-parses
them on every access; their values come from strangers' mail, so an entry may be large
and a count of entries bounds nothing. Each entry is charged its measured size (keys,
values and everything they hold), and the least recently used entries go when the
total passes the cap.
"""

from __future__ import annotations

import sys
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import wraps
from typing import Any, Generic, TypeVar, cast

# Total size of each memo, and the largest entry worth remembering.
DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_ENTRY_BYTES = 64 * 1024

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
F = TypeVar("F", bound=Callable[..., Any])

# Shared by everything that refers to them: never charged to one entry.
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def deep_size(value: object) -> int:
    """Bytes held by `value` and the containers, strings and instances it refers to.

    Each object is counted once; classes, modules and functions are not descended into.
    """
    seen: set[int] = set()
    stack = [value]
    total = 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, _OPAQUE):
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        attributes = getattr(item, "__dict__", None)
        if isinstance(attributes, dict):
            stack.append(attributes)
    return total


class ByteBoundedMemo(Generic[K, V]):
    """Key to value, least recently used first out once the entries pass `max_bytes`."""

    def __init__(
        self, *, max_bytes: int = DEFAULT_MAX_BYTES, max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self.size = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The value remembered for `key`, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V) -> None:
        """Remember `value` unless it alone is larger than an entry may be."""
        cost = deep_size(key) + deep_size(value)
        if cost > self.max_entry_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.size -= previous[1]
            self._entries[key] = (value, cost)
            self.size += cost
            while self.size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.size -= dropped

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self.size = 0


def bytes_bounded_cache(
    *, max_bytes: int = DEFAULT_MAX_BYTES, max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES
) -> Callable[[F], F]:
    """Like `functools.lru_cache` for a function of one hashable argument, bounded by bytes.

    Exceptions are not remembered: the call is made again. The memo is the wrapper's
    `memo` attribute.
    """

    def decorate(function: F) -> F:
        memo: ByteBoundedMemo[Hashable, Any] = ByteBoundedMemo(
            max_bytes=max_bytes, max_entry_bytes=max_entry_bytes
        )

        @wraps(function)
        def wrapper(argument: Hashable) -> Any:
            result = memo.get(argument)
            if result is None:
                result = function(argument)
                memo.put(argument, result)
            return result

        wrapper.memo = memo  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate
