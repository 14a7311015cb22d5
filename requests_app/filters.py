"""The request list's query parameters: validated filters and an ordering with a stable tiebreak.

Every parameter is a form field, so a bad value is a 400 naming the parameter, never a 500.
"""

import copy
import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import django_filters
from django import forms
from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    DateTimeField,
    Exists,
    F,
    Field,
    ForeignKey,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.expressions import Combinable, Expression, OrderBy
from django.db.models.lookups import Contains
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from messages_app.models import Kind, Message
from requests_app.models import Status
from servicedesk.casefold import CaseFolded

DEFAULT_ORDERING = "-created_at"

# Public ordering name -> model field. `operator` sorts by the operator's name (the copy
# kept on the request, indexed with `id`).
ORDERING_FIELDS: dict[str, str] = {
    "id": "id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "status": "status",
    "subject": "subject",
    "requester_email": "requester_email",
    "operator": "operator_name",
    "last_message_at": "last_message_at",
}
_NULLABLE_ORDERING = {"operator_name", "last_message_at"}

# An unencoded `+` in a query string arrives as a space: `...T10:15:00 05:30`.
_SPACE_OFFSET = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) (\d{2}:?\d{2})$"
)
_LEAP_SECOND = re.compile(r"(T\d{2}:\d{2}):60(?=[.,Z+-]|$)")
# RFC 3339's shapes (with a space for the T, and the seconds or the offset left out):
# not ISO 8601's others, which Python also reads (20261120, 2026-W47, +0300).
_RFC3339_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)
# Digits of a second's fraction past the microseconds a stored time holds.
_PAST_MICROSECONDS = re.compile(r"([.,]\d{6})(\d+)")
# Operator ids as the parameter's documented pattern says (`none` aside).
_OPERATOR_ID = re.compile(r"[1-9][0-9]{0,17}")
_EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)
_LATEST = datetime.datetime.max.replace(tzinfo=datetime.UTC)


class _CopiedShallow:
    """django-filter deep-copies every filter of a FilterSet for every request. After
    construction nothing in these filters changes but what the FilterSet sets on its copy
    (`model`, `parent`) and the form field built lazily, so a shallow copy does: with
    the FilterMethod of a `method=` filter bound to the copy, as the `method` setter does.
    """

    method: Any  # django_filters.Filter's, on the classes this mixes into

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        new = copy.copy(self)
        new.__dict__.pop("_field", None)
        if new.method is not None:
            new.method = new.method
        return new


class _TextField(forms.CharField):
    """A trimmed text parameter that refuses NUL characters (as every CharField does)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)


def _prohibit_nul(value) -> None:
    # Checked on the raw text: Python's datetime parser silently stops at a NUL.
    if "\x00" in str(value):
        raise forms.ValidationError("Null characters are not allowed.", code="null_characters")


def _terms(value) -> list[str]:
    """The comma-separated items of an array parameter. An empty one (`status=`,
    `ordering=id,,subject`) is an item the schema's enum does not allow: 400, as for any
    other value the parameter does not take."""
    terms = [part.strip() for part in str(value).split(",")]
    if not all(terms):
        raise forms.ValidationError(
            "Give one or more values, comma-separated, with none empty.", code="empty_item"
        )
    return terms


class StatusListField(forms.Field):
    """`new`, `in_progress`, `closed`, several comma-separated; another value is an error."""

    def to_python(self, value):
        if value is None:
            return []
        _prohibit_nul(value)
        statuses = _terms(value)
        unknown = [s for s in statuses if s not in Status.values]
        if unknown:
            raise forms.ValidationError(
                "Unknown status %(value)s: use new, in_progress or closed, comma-separated.",
                code="invalid_choice",
                params={"value": ", ".join(repr(s) for s in unknown)},
            )
        return list(dict.fromkeys(statuses))


class OperatorRefField(forms.Field):
    """An operator id, or `none` for requests nobody holds."""

    def to_python(self, value):
        if value is None:
            return None
        _prohibit_nul(value)
        value = str(value)
        if value.lower() == "none":
            return "none"
        # Exactly the documented pattern: no sign, no leading zero, at most 18 digits.
        if _OPERATOR_ID.fullmatch(value):
            return int(value)
        raise forms.ValidationError(
            "Enter an operator id (a positive whole number) or 'none'.", code="invalid"
        )


class RFC3339Field(forms.Field):
    """An RFC 3339 time with any UTC offset, or a date (its midnight in UTC); naive means UTC."""

    def to_python(self, value):
        if value is None:
            return None
        _prohibit_nul(value)
        text = _SPACE_OFFSET.sub(r"\1+\2", str(value).strip()).upper()
        # RFC 3339 allows a leap second (:60); Python's datetime does not.
        text, leap_seconds = _LEAP_SECOND.subn(r"\1:59", text)
        # A time between two microseconds is the next one for both bounds: created at or
        # after 10:15:00.0000005 is at or after .000001, created before it is before .000001.
        past = _PAST_MICROSECONDS.search(text)
        rounding = datetime.timedelta(microseconds=1 if past and past[2].strip("0") else 0)
        text = _PAST_MICROSECONDS.sub(r"\1", text)
        try:
            parsed = parse_datetime(text) if _RFC3339_SHAPE.fullmatch(text) else None
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.UTC)
            try:
                return (
                    parsed.astimezone(datetime.UTC)
                    + datetime.timedelta(seconds=leap_seconds)
                    + rounding
                )
            except OverflowError:
                # A valid time whose UTC equivalent falls outside years 1-9999: it is
                # before or after every stored time.
                ahead = (parsed.utcoffset() or datetime.timedelta(0)) > datetime.timedelta(0)
                return _EARLIEST if ahead else _LATEST
        raise forms.ValidationError(
            "Enter an RFC 3339 time such as 2026-11-20T10:15:00Z or 2026-11-20T13:15:00+03:00, "
            "or a date such as 2026-11-20.",
            code="invalid",
        )


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "enum": Status.values}},
)
class StatusFilter(_CopiedShallow, django_filters.Filter):
    field_class = StatusListField

    def filter(self, qs: QuerySet, value: list[str]) -> QuerySet:
        if not value:
            return qs
        if len(value) == 1:
            return qs.filter(status=value[0])
        return qs.filter(status__in=value)


class TextFilter(_CopiedShallow, django_filters.CharFilter):
    field_class = _TextField


@extend_schema_field(OpenApiTypes.STR)
class OperatorFilter(_CopiedShallow, django_filters.Filter):
    field_class = OperatorRefField

    def filter(self, qs: QuerySet, value: int | str | None) -> QuerySet:
        if value is None:
            return qs
        if value == "none":
            return qs.filter(operator__isnull=True)
        return qs.filter(operator_id=value)


@extend_schema_field(OpenApiTypes.DATETIME)
class CreatedFilter(_CopiedShallow, django_filters.Filter):
    field_class = RFC3339Field


class OrderingTermsField(forms.Field):
    """Ordering terms, comma-separated, `-` for descending; an unknown field is an error."""

    def to_python(self, value):
        if value is None:
            return [DEFAULT_ORDERING]
        _prohibit_nul(value)
        terms = _terms(value)
        unknown = [t for t in terms if t.removeprefix("-") not in ORDERING_FIELDS]
        if unknown:
            raise forms.ValidationError(
                "Unknown ordering field %(value)s: use %(fields)s, with '-' for descending.",
                code="invalid_choice",
                params={
                    "value": ", ".join(repr(t) for t in unknown),
                    "fields": ", ".join(ORDERING_FIELDS),
                },
            )
        return terms


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "string",
            "enum": [p + name for name in ORDERING_FIELDS for p in ("", "-")],
        },
    }
)
class RequestOrderingFilter(_CopiedShallow, django_filters.Filter):
    """Orders by the given terms, then by `id` in the direction of the last term."""

    field_class = OrderingTermsField

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        order_by: list[OrderBy | str] = []
        seen = set()
        descending = False
        for term in value or [DEFAULT_ORDERING]:
            descending = term.startswith("-")
            field = ORDERING_FIELDS[term.removeprefix("-")]
            if field in seen:
                continue
            seen.add(field)
            if field in _NULLABLE_ORDERING:
                # NULLs where PostgreSQL puts them by default (last ascending), on SQLite too.
                order_by.append(
                    F(field).desc(nulls_first=True) if descending else F(field).asc(nulls_last=True)
                )
            else:
                order_by.append(f"-{field}" if descending else field)
        if "id" not in seen:
            order_by.append("-id" if descending else "id")
        return qs.order_by(*order_by)


# Sort keys equal to a column for every value, NULL included, on which no index is
# defined: `(subject || '')` sorts exactly as `subject` does.
_UNINDEXED_KEYS: tuple[tuple[type[Field], str], ...] = (
    (CharField, "(%(expressions)s || '')"),
    (DateTimeField, "(%(expressions)s + interval '0 seconds')"),
    (IntegerField, "(%(expressions)s + 0)"),  # BigAutoField and the like
    (ForeignKey, "(%(expressions)s + 0)"),
)


# Ordered by subject, the matches of a word sit together, maybe far along (every
# "Laptop ..." subject after every "Access ..." one), where the planner takes them to be
# spread evenly. Addresses sort by their local part while a search mostly names a
# domain: its matches are spread over that order, and a walk finds them soon.
CLUSTERED_ORDERINGS = frozenset({"subject"})


def first_sort_column(queryset: QuerySet) -> str | None:
    """The column `queryset` is ordered by first, if its first sort key is a plain column."""
    if not queryset.query.order_by:
        return None
    first = queryset.query.order_by[0]
    if isinstance(first, str):
        return first.removeprefix("-")
    if isinstance(first, OrderBy) and isinstance(first.expression, F):
        name: str = first.expression.name  # type: ignore[attr-defined]  # not in django-stubs
        return name
    return None


def sorted_not_walked(queryset: QuerySet) -> QuerySet:
    """`queryset` in the same order, which no index can hand over as it stands (PostgreSQL).

    The first sort key becomes an expression equal to its column, so the planner cannot
    walk the column's index testing each row it passes: it reads the rows its filters'
    indexes find (a bitmap) and sorts them. The rows come in the same order, ties and
    NULLs included; only the plan changes. On another database, or when the first key is
    not a plain column, `queryset` as it is.
    """
    if connections[queryset.db].vendor != "postgresql":
        return queryset
    name = first_sort_column(queryset)
    if name is None:
        return queryset
    first, *rest = queryset.query.order_by
    if isinstance(first, str):
        first = OrderBy(F(name), descending=first.startswith("-"))
    assert isinstance(first, OrderBy)
    field = queryset.model._meta.get_field(name)
    template = next((t for kind, t in _UNINDEXED_KEYS if isinstance(field, kind)), None)
    if template is None:
        return queryset
    key = Func(first.expression, template=template, output_field=field)
    return queryset.order_by(
        OrderBy(
            key,
            descending=first.descending,
            nulls_first=first.nulls_first,
            nulls_last=first.nulls_last,
        ),
        *rest,
    )


class SupportRequestFilter(django_filters.FilterSet):
    """Filters of `GET /api/v1/requests/`; each invalid value is a 400 naming its parameter."""

    status = StatusFilter(
        help_text="`new`, `in_progress` or `closed`; several comma-separated "
        "(`new,in_progress`). Another value answers 400."
    )
    operator = OperatorFilter(help_text="An operator id, or `none` for requests nobody has taken.")
    requester_email = TextFilter(
        method="filter_requester_email",
        help_text="The requester's exact address, compared case-insensitively.",
    )
    search = TextFilter(
        method="filter_search",
        help_text="Words (all of them) found in the subject or the requester's address, "
        "case-insensitively, or words in the text of the request's messages. "
        '`"a phrase"` in quotes, `-word` to leave out requests that hold it, `or` for '
        "either side: `printer -floor`, `vpn or wifi`.",
    )
    created_after = CreatedFilter(
        method="filter_created_after",
        help_text="Requests created at or after this RFC 3339 time (any UTC offset) or date "
        "(its midnight UTC); a time without offset is UTC.",
    )
    created_before = CreatedFilter(
        method="filter_created_before",
        help_text="Requests created strictly before this RFC 3339 time (any UTC offset) or "
        "date (its midnight UTC); a time without offset is UTC.",
    )
    ordering = RequestOrderingFilter(
        help_text="Comma-separated fields among `id`, `created_at`, `updated_at`, `status`, "
        "`subject`, `requester_email`, `operator` (its name), `last_message_at`; `-` for "
        "descending. Default `-created_at`. Ties are broken by `id` in the direction of the "
        "last field. An unknown field answers 400."
    )

    def get_form_class(self):
        # The form's fields depend on nothing a request brings: build its class once per
        # process instead of on every list request (django-filter's documented hook).
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def filter_requester_email(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        # Addresses are stored in lower case (a database constraint), so this uses the index.
        return qs.filter(requester_email=value.strip().lower())

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return search_requests(qs, text=value)

    def filter_created_after(self, qs: QuerySet, name: str, value: datetime.datetime) -> QuerySet:
        return qs.filter(created_at__gte=value)

    def filter_created_before(self, qs: QuerySet, name: str, value: datetime.datetime) -> QuerySet:
        return qs.filter(created_at__lt=value)


class _RowCondition(Expression):
    """A condition on a PostgreSQL-only column of the request's own row (not a model field).

    The column is named through the request's primary key, so the condition follows the
    table wherever the query puts it (a page's ids are read in a subquery, under another
    alias).
    """

    output_field = BooleanField()
    column: str
    template: str  # `%(column)s` is the column, `%(pk)s` the primary key, `%%s` a parameter

    def __init__(self, *params: Any) -> None:
        super().__init__()
        self.params = params
        self.pk: Combinable | Expression = F("pk")

    def get_source_expressions(self) -> list[Combinable | Expression]:
        return [self.pk]

    def set_source_expressions(self, exprs: Sequence[Combinable | Expression]) -> None:
        (self.pk,) = exprs

    def as_sql(self, compiler, connection):
        pk_sql, _ = compiler.compile(self.pk)
        table = pk_sql.rpartition(".")[0]
        column = f"{table}.{connection.ops.quote_name(self.column)}"
        return self.template % {"column": column, "pk": pk_sql}, list(self.params)


class _MailWordsMatch(_RowCondition):
    """`mail_words @@ request_search_query(text)`: `websearch_to_tsquery('simple', text)`.

    `mail_words` (requests_app migration 0006) holds the words of all the request's
    messages, kept by the database. `websearch_to_tsquery` takes any user text (quotes for
    phrases, `-word` to exclude) without a syntax error; `simple` matches Russian and
    English words as written, any case. Where its parser still fails (a long run of `-`),
    `request_search_query` (migration 0008) takes the plain words instead.
    """

    column = "mail_words"
    template = "%(column)s @@ request_search_query(%%s)"


class _SubjectOrAddressContains(_RowCondition):
    """`search_text LIKE lower('%word%')`: the word is in the subject or the address.

    `search_text` (requests_app migration 0007) is the lower-cased subject, a space and the
    address (stored in lower case), a column the database generates: the test reads
    no function of a column, which a walk of an ordering's index pays on every row it
    passes, and one trigram index serves both. A word holds no whitespace, so it never
    matches across the space between the two; a quoted phrase could, when it ends with
    the subject's last words and starts the address.
    """

    column = "search_text"
    template = "%(column)s LIKE lower(%%s)"

    def __init__(self, word: str) -> None:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        super().__init__(f"%{escaped}%")


def walked_no_further_than(queryset: QuerySet, rows: int) -> QuerySet | None:
    """`queryset`, ordered by a single column and `id`, restricted to the first `rows`
    requests of the whole table in that order (PostgreSQL): a walk of that column's index
    stops there, whatever the filters leave of them. None for another order or database,
    or when the table holds no more than `rows` requests (the walk is as short already).

    Walked this far, a page that is full is exactly the page of the whole list: every row
    past the bound comes after every row before it.
    """
    if connections[queryset.db].vendor != "postgresql":
        return None
    order_by = queryset.query.order_by
    if len(order_by) != 2:
        return None
    first, tiebreak = order_by
    if not isinstance(first, str):
        return None
    descending = first.startswith("-")
    if tiebreak != ("-id" if descending else "id"):
        return None
    column = first.removeprefix("-")
    bound = (
        queryset.model._default_manager.using(queryset.db)
        .order_by(*order_by)
        .values_list(column, "id")[rows - 1 : rows + 1]
    )
    found = list(bound)
    if len(found) < 2:
        return None
    return queryset.filter(Q(_SortKeyWithin(column, found[0], descending=descending)))


class _SortKeyWithin(_RowCondition):
    """`(column, id) <= (value, id)` (`>=` descending): a bound of the walk of the
    `(column, id)` index, which PostgreSQL applies as the index's own condition."""

    def __init__(self, column: str, bound: tuple[Any, int], *, descending: bool) -> None:
        super().__init__(*bound)
        self.column = column
        self.template = f"(%(column)s, %(pk)s) {'>=' if descending else '<='} (%%s, %%s)"


@dataclass(frozen=True)
class SearchTerm:
    """A word or a quoted phrase of a search, and whether `-` leaves out what holds it."""

    text: str
    excluded: bool = False


# A quoted phrase (its closing quote may be missing), a run of `-`, or a word.
_SEARCH_TOKEN = re.compile(r'"([^"]*)"?|(-+)|([^\s"]+)')


def search_terms(text: str) -> list[list[SearchTerm]]:
    """`text` read as `websearch_to_tsquery` reads it, for matching substrings: groups
    joined by `or`, any of which may hold; each group's terms, all of which must. A term is
    a word or a quoted phrase; an odd number of `-` before one (`-word`, `- word`) leaves
    out what holds it. A `-` before nothing or a phrase with nothing in it is no term; an
    `or` that joins nothing is a word."""
    groups: list[list[SearchTerm]] = [[]]
    dashes = 0
    for phrase, minus, word in _SEARCH_TOKEN.findall(text):
        if minus:
            dashes += len(minus)
            continue
        if word.casefold() == "or" and groups[-1] and not dashes:
            groups.append([])
            continue
        term = " ".join(phrase.split()) or word
        if term:
            groups[-1].append(SearchTerm(term, excluded=dashes % 2 == 1))
        dashes = 0
    if len(groups) > 1 and not groups[-1]:
        # A last `or` joins nothing: a word of the group before it.
        groups.pop()
        groups[-1].append(SearchTerm("or"))
    return [group for group in groups if group]


def _any_group(groups: list[list[SearchTerm]], holds: Callable[[str], Q]) -> Q | None:
    """Any of `groups` whose terms all hold (`holds(text)`, or not for a term left out);
    None when there is no group."""
    found = None
    for group in groups:
        every = Q()
        for term in group:
            every &= ~holds(term.text) if term.excluded else holds(term.text)
        found = every if found is None else found | every
    return found


def search_requests(queryset: QuerySet, *, text: str) -> QuerySet:
    """Requests whose subject or requester's address holds the words of `text`
    (substrings, any case), or whose messages' text holds them (notes included,
    automatic notices not). The text is read as `websearch_to_tsquery` reads it (a quoted
    phrase, `-` to leave out, `or`; `search_terms`), for the subject and the address too.

    On PostgreSQL one condition on the request's row, the mail's words tested first (the
    cheaper test, and most matches): the GIN index of `mail_words` for the mail, a trigram
    index of `search_text` for the subject and the address, and both again over open
    requests alone (migration 0007), which a status filter without `closed` reads. The
    planner combines it with the other filters and the ordering (a bitmap of the indexes
    when few requests match, a walk of the ordering's index when many do), and the count is
    exact. The embedded SQLite default tests each term against the messages' text, plainly,
    with the case of both folded in every alphabet (`servicedesk.casefold`).
    """
    if not text.split():
        return queryset
    groups = search_terms(text)
    if connections[queryset.db].vendor == "postgresql":
        found = Q(_MailWordsMatch(text))
        in_subject_or_address = _any_group(groups, lambda t: Q(_SubjectOrAddressContains(t)))
        if in_subject_or_address is not None:
            found |= in_subject_or_address
        return queryset.filter(found)

    def in_subject_or_address_sqlite(term: str) -> Q:
        term = term.casefold()
        return Q(Contains(CaseFolded("subject"), term)) | Q(
            Contains(CaseFolded("requester_email"), term)
        )

    def in_mail(term: str) -> Q:
        messages = Message.objects.filter(
            Contains(CaseFolded("body"), term.casefold()), request_id=OuterRef("pk")
        )
        return Q(Exists(messages.exclude(kind=Kind.AUTO)))

    by_words = _any_group(groups, in_subject_or_address_sqlite)
    by_mail = _any_group(groups, in_mail)
    if by_words is None or by_mail is None:
        return queryset.none()
    return queryset.filter(by_words | by_mail)
