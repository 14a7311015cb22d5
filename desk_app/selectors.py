"""The console's queue: tabs over the request list's own filters, selector and count cache."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import F, QuerySet
from django.db.models.expressions import OrderBy

from requests_app.counts import CountedRows, count_requests
from requests_app.filters import SupportRequestFilter
from requests_app.models import OPEN_STATUSES, Status
from requests_app.selectors import REQUEST_COLUMNS, list_request_rows

PAGE_SIZE = 50
TABS = ("mine", "unassigned", "open", "closed")
# The console's sort names; "waiting" is its own (who has waited longest for an answer),
# the others are orderings of the list API.
SORTS = {
    "waiting": None,
    "newest": "-last_message_at",
    "oldest": "last_message_at",
    "created": "-created_at",
}
_OPEN = ",".join(OPEN_STATUSES)


def tab_filters(*, tab: str, operator_id: int) -> dict[str, str]:
    """The list filters (query parameters of the list API) one tab stands for."""
    filters: dict[str, dict[str, str]] = {
        "mine": {"status": _OPEN, "operator": str(operator_id)},
        "unassigned": {"status": _OPEN, "operator": "none"},
        "open": {"status": _OPEN},
        "closed": {"status": Status.CLOSED.value},
    }
    return filters[tab]


def order_waiting_first(queryset: QuerySet, *, one_operator: bool = False) -> QuerySet:
    """Requests waiting on an operator first (the requester wrote last), the longest-waiting
    first. The partial indexes `request_desk_waiting` (all open requests) and
    `request_desk_waiting_operator` (one operator's or nobody's, whose operator column is
    the same on every row, so leading with it changes nothing) hand out a page unsorted."""
    order: list[OrderBy | str] = [
        F("last_reply_by").desc(),
        F("last_message_at").asc(nulls_last=True),
        "id",
    ]
    return queryset.order_by("operator_id", *order) if one_operator else queryset.order_by(*order)


@dataclass
class Queue:
    """One page of the queue and what its header shows."""

    tab: str
    sort: str
    page: Page | None
    counts: dict[str, int]
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(REQUEST_COLUMNS, row, strict=True)) for row in self.page or ()]


def _filterset(data: Mapping[str, str]) -> SupportRequestFilter:
    return SupportRequestFilter(data=data, queryset=list_request_rows())


def _cleaned(filterset: SupportRequestFilter) -> dict[str, Any]:
    # The ordering does not change how many requests match: one cached count for all.
    return {k: v for k, v in filterset.form.cleaned_data.items() if k != "ordering"}


def get_queue(
    *,
    operator_id: int,
    tab: str,
    sort: str,
    status: str = "",
    operator: str = "",
    search: str = "",
    page_number: int = 1,
) -> Queue:
    """A page of the queue: the tab's filters with the person's on top, in the chosen sort,
    and the count of every tab (each through the list's count cache)."""
    counts: dict[str, int] = {}
    tab_cleaned: dict[str, dict[str, Any]] = {}
    for name in TABS:
        tab_set = _filterset(tab_filters(tab=name, operator_id=operator_id))
        tab_set.is_valid()
        tab_cleaned[name] = _cleaned(tab_set)
        counts[name] = count_requests(tab_set.qs, filters=tab_cleaned[name])

    data = tab_filters(tab=tab, operator_id=operator_id)
    for name, value in (("status", status), ("operator", operator), ("search", search)):
        if value:
            data[name] = value
    ordering = SORTS[sort]
    if ordering:
        data["ordering"] = ordering
    filterset = _filterset(data)
    if not filterset.is_valid():
        return Queue(tab=tab, sort=sort, page=None, counts=counts, errors=filterset.errors)
    if ordering:
        queryset = filterset.qs
    else:
        one_operator = filterset.form.cleaned_data.get("operator") is not None
        queryset = order_waiting_first(filterset.qs, one_operator=one_operator)
    filters = _cleaned(filterset)
    # CountedRows is the sequence protocol Paginator uses (count, slicing, ordered).
    paginator: Paginator[Any] = Paginator(CountedRows(queryset, filters=filters), PAGE_SIZE)  # type: ignore[arg-type]
    if filters == tab_cleaned[tab]:
        paginator.count = counts[tab]  # counted above
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        page = paginator.page(paginator.num_pages)
    return Queue(tab=tab, sort=sort, page=page, counts=counts)
