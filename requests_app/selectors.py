"""Reads of support requests the API needs, each in one query."""

from django.db import connections
from django.db.models import BooleanField, Count, Exists, FilteredRelation, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from messages_app.models import Message
from operators_app.models import Operator
from requests_app.models import OPEN_STATUSES, RequestEvent, SupportRequest

# Every column the Request object shows, in the order of a row of the list
# (`serializers.request_data` maps a row to the object); nothing else is read. A page of
# rows skips building 100 model instances.
REQUEST_COLUMNS = (
    "id",
    "subject",
    "requester_email",
    "requester_name",
    "status",
    "operator_id",
    "operator__name",
    "created_at",
    "updated_at",
    "taken_at",
    "closed_at",
    "last_message_at",
    "message_count",
    "last_reply_by",
    "first_response_at",
)
# The same for model instances, whose joined operator also needs its key.
_LIST_FIELDS = (*REQUEST_COLUMNS, "operator__id")


# Resolving 14 columns and a join costs more than compiling the page's SQL: done once here,
# and each list copies the result (never evaluated itself: filters always come on top).
_REQUEST_ROWS = SupportRequest.objects.values_list(*REQUEST_COLUMNS).order_by("-created_at", "-id")


def list_request_ids() -> QuerySet[SupportRequest]:
    """Every request, newest first, with nothing joined: the list's filters, ordering and
    count go on this, and a page's ids are read from an index alone (see `CountedRows`)."""
    return SupportRequest.objects.order_by("-created_at", "-id")


def list_request_rows() -> QuerySet:
    """Every request as a tuple of REQUEST_COLUMNS, newest first; filters and ordering go on top."""
    return _REQUEST_ROWS.all()


def list_requests() -> QuerySet[SupportRequest]:
    """All requests with their operator joined, newest first; filters and ordering go on top."""
    return (
        SupportRequest.objects.select_related("operator")
        .only(*_LIST_FIELDS)
        .order_by("-created_at", "-id")
    )


def get_request(*, request_id: int) -> SupportRequest | None:
    """One request with its operator, or None."""
    return list_requests().filter(pk=request_id).first()


def request_exists(*, request_id: int) -> bool:
    """Whether a request with this id exists."""
    return SupportRequest.objects.filter(pk=request_id).exists()


# Operators with their workload: a read about requests, so it sits here, where both
# models are visible (operators_app's models lie below the requests').
def with_open_requests(operators: QuerySet[Operator]) -> QuerySet[Operator]:
    """`operators` annotated with `open_requests`: how many requests each holds not closed."""
    # The condition sits in the join, so the (operator, status) index serves it.
    return operators.annotate(
        open_held=FilteredRelation("requests", condition=Q(requests__status__in=OPEN_STATUSES)),
        open_requests=Count("open_held"),
    )


def list_operators() -> QuerySet[Operator]:
    """Operators with their user and `open_requests`, by name."""
    return with_open_requests(Operator.objects.select_related("user")).order_by("name", "id")


def get_operator(*, operator_id: int) -> Operator | None:
    """One operator with its user and `open_requests`, or None."""
    return list_operators().filter(pk=operator_id).first()


def list_events(*, request_id: int) -> QuerySet[RequestEvent]:
    """A request's history, oldest first, with each acting operator and the requester's name."""
    return (
        RequestEvent.objects.filter(request_id=request_id)
        .select_related("operator", "request")
        .only(
            "id",
            "at",
            "type",
            "actor_type",
            "data",
            "operator__id",
            "operator__name",
            "request__requester_name",
            "request__requester_email",
        )
        .order_by("at", "id")
    )


# The words of the message text, on PostgreSQL: the `search_vector` column and its GIN
# index (messages_app migration 0004), `simple` configuration so that Russian and English
# words alike match as written, any case; `websearch_to_tsquery` takes any user text
# (quotes for phrases, `-word` to exclude) without a syntax error.
_TEXT_MATCH_SQL = "search_vector @@ websearch_to_tsquery('simple'::regconfig, %s)"


def _matching_message_requests(text: str, *, vendor: str) -> QuerySet:
    """Ids of requests with a message whose text holds the words of `text`."""
    if vendor == "postgresql":
        matching = Message.objects.filter(
            # A constant SQL text; the user's words go in as a parameter.
            RawSQL(_TEXT_MATCH_SQL, [text], output_field=BooleanField())  # noqa: S611
        )
    else:
        # The embedded SQLite default: a plain case-insensitive match of each word.
        matching = Message.objects.exclude(kind="auto")
        for word in text.split():
            matching = matching.filter(body__icontains=word)
    return matching.order_by().values("request_id")


# A probe of one request's messages. OFFSET 0 keeps PostgreSQL from turning it into one
# hash of every matching message (which costs as much as the UNION); the probe is meant
# for a walk that stops after a page. The outer table is not aliased: the dense form is
# only ever the top-level query of a page.
_HAS_MATCHING_MESSAGE_SQL = (
    "EXISTS (SELECT 1 FROM messages_app_message m"
    ' WHERE m.request_id = "requests_app_supportrequest"."id"'
    " AND m.search_vector @@ websearch_to_tsquery('simple'::regconfig, %s) OFFSET 0)"
)


def _has_matching_message(text: str, *, vendor: str):
    if vendor == "postgresql":
        # A constant SQL text; the user's words go in as a parameter.
        return RawSQL(_HAS_MATCHING_MESSAGE_SQL, [text], output_field=BooleanField())  # noqa: S611
    in_text = _matching_message_requests(text, vendor=vendor)
    return Exists(in_text.filter(request_id=OuterRef("pk")))


def search_requests(queryset: QuerySet, *, text: str, dense: bool = False) -> QuerySet:
    """Requests whose subject or requester's address holds every word of `text`
    (substrings, any case), or with a message whose text holds its words.

    Two forms of the same condition. By default both halves are index searches on
    PostgreSQL (trigram indexes on the subject and the address, full-text on messages)
    joined by a UNION: a rare or absent word costs a few index probes, and the count is
    exact. With `dense` each request is tested on its own (a probe of its messages), so
    a page of a word that many requests hold is read by walking the ordering's index
    until the page is full, instead of collecting every match first.
    """
    words = text.split()
    if not words:
        return queryset
    by_words = Q()
    for word in words:
        by_words &= Q(subject__icontains=word) | Q(requester_email__icontains=word)
    vendor = connections[queryset.db].vendor
    in_text = _matching_message_requests(text, vendor=vendor)
    if dense:
        return queryset.filter(by_words | Q(_has_matching_message(text, vendor=vendor)))
    matching = SupportRequest.objects.order_by().filter(by_words).values("pk").union(in_text)
    return queryset.filter(pk__in=matching)
