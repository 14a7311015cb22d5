"""The `count` of request lists, cached between changes to the requests.

Counting a filter that matches tens of thousands of requests (every closed one, every
open one) is the most expensive step of a list page: PostgreSQL reads each matching
index entry on every page view, for every operator. Operators page through the same
few filters again and again, while the set of requests a filter matches changes only
when a request opens, is taken, is closed, edited or deleted. So a large count is
cached, keyed by the filters and by a *generation* that each such change replaces
after it commits. A count read under an older generation is never used again, so
a cached count is exact.

The services that change requests or their mail call `requests_changed()` once each,
inside their transaction: `ingest_batch` (mail arriving, new requests or not: the search
matches mail text), and in `requests_app.services` opening, take, assign, close, replies,
notes and the admin's edits, and `delete_requests`/`delete_messages`. Nothing else calls it but
`seed_demo`, which writes past every service. A change that bypasses them (raw SQL, a
shell) is seen after `REQUEST_COUNT_CACHE_SECONDS` at the latest. Small counts cost less
than the cache round trip and are always counted. The cache must be shared by every
process (Redis): without REDIS_URL the setting defaults to 0, which counts every time.
A Redis outage reads as a cache miss (django-redis's IGNORE_EXCEPTIONS): every page
counts until Redis returns, and the counts cached before it expire by themselves.
"""

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from requests_app.filters import (
    CLUSTERED_ORDERINGS,
    first_sort_column,
    sorted_not_walked,
    walked_no_further_than,
)
from requests_app.selectors import REQUEST_COLUMNS, estimated_request_count, list_request_rows

GENERATION_KEY = "requests:generation"
# Below this many matching requests, counting is cheaper than keeping the count.
CACHED_COUNT_MIN = 1_000
# A search ordered by subject with at most this many matches has its page read from the
# matches, sorted, not from a walk of the subject index (`CountedRows`): 22-25 ms for the
# 4,000-8,000 new requests with a common word of a million (open requests' indexes),
# 2-4 us a match beyond (190-270 ms for 80,000-170,000).
SORTED_SEARCH_MAX = 10_000
# The least a walk of the list's order is allowed before a page of more matches is sorted.
WALK_MIN = 1_000


def requests_changed() -> None:
    """Retire every cached count once the caller's transaction commits."""
    transaction.on_commit(_new_generation)


def _new_generation() -> None:
    cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)


def count_key(filters: Mapping[str, Any]) -> str:
    """The cache key of the count of one set of filters (ordering does not change a count)."""
    normalised = sorted(
        (name, sorted(value) if isinstance(value, list) else value)
        for name, value in filters.items()
        if value not in (None, "", [])
    )
    return "requests:count:" + hashlib.sha256(repr(normalised).encode()).hexdigest()


def count_requests(queryset: QuerySet, *, filters: Mapping[str, Any]) -> int:
    """How many requests `queryset` (the list filtered by `filters`) holds."""
    seconds = settings.REQUEST_COUNT_CACHE_SECONDS
    if seconds <= 0:
        return queryset.count()
    key = count_key(filters)
    found = cache.get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY)
    cached = found.get(key)
    if generation is not None and cached is not None and cached[0] == generation:
        return cached[1]
    count = queryset.count()
    if count >= CACHED_COUNT_MIN:
        if generation is None:
            # No generation yet: start one, and cache from the next count on. A count
            # stored now could predate a change that committed while it ran.
            cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        else:
            cache.set(key, (generation, count), timeout=seconds)
    return count


class CountedRows:
    """A list queryset whose `count()` comes from `count_requests`, for Django's Paginator."""

    ordered = True

    def __init__(self, queryset: QuerySet, *, filters: Mapping[str, Any]):
        self.queryset = queryset
        self.filters = filters
        self.counted: int | None = None

    def count(self) -> int:
        self.counted = count_requests(self.queryset, filters=self.filters)
        return self.counted

    def __getitem__(self, index):
        source = self.queryset
        if not isinstance(index, slice):
            return source.values_list(*REQUEST_COLUMNS)[index]
        # A deferred join: the page's ids first, from the filter and ordering columns alone
        # (an index, even at a deep offset, reads no table rows for the rows it skips),
        # then only those rows as tuples of REQUEST_COLUMNS, in one statement.
        ids = source.values_list("pk", flat=True)
        rows = list_request_rows().order_by(*source.query.order_by)
        if self._searched_in_clustered_order():
            # The planner takes a search's matches to be spread evenly over any order and
            # walks the ordering's index testing each row. Ordered by subject, the matches
            # sit together, maybe far along (a word in subjects that sort late): the
            # walk reads hundreds of thousands of rows for page 1. The count, known
            # before the page (the paginator asks for it first), bounds the cost of
            # reading the matches from the search's indexes and sorting them: with few,
            # that is the plan. With many, they may be spread (a word of the mail) and a
            # short walk fills the page: walk a bounded number of requests, and only if
            # that leaves the page short, sort. (A table no longer than the bound is
            # walked whole.)
            assert self.counted is not None
            budget = None if self.counted <= SORTED_SEARCH_MAX else self._walk_budget(index)
            if budget is None:
                ids = sorted_not_walked(ids)
            elif (walked := walked_no_further_than(ids, budget)) is not None:
                page = self._full_page(walked, index)
                if page is not None:
                    return rows.filter(pk__in=page)
                ids = sorted_not_walked(ids)
        return rows.filter(pk__in=ids[index])

    def _searched_in_clustered_order(self) -> bool:
        return (
            bool((self.filters.get("search") or "").split())
            and first_sort_column(self.queryset) in CLUSTERED_ORDERINGS
            and self.counted is not None
        )

    def _walk_budget(self, index: slice) -> int | None:
        """How many requests a walk may read to find the page: twice what it reads when
        the matches are spread evenly over the order (at least WALK_MIN), or None when
        that is more than the matches (a request walked costs about what a match sorted
        does, so sorting them costs less)."""
        assert self.counted is not None
        table = estimated_request_count(self.queryset.db) or self.counted
        spread = -(-index.stop * table // self.counted)  # rows before the page's last match
        budget = max(WALK_MIN, 2 * spread)
        return budget if budget < self.counted else None

    def _full_page(self, walked: QuerySet, index: slice) -> list[int] | None:
        """The page's ids in `walked`, when it holds the whole page."""
        assert self.counted is not None
        start, stop = index.start or 0, index.stop
        expected = max(0, min(stop, self.counted) - start)
        page = list(walked[index])
        return page if len(page) == expected and expected else None
