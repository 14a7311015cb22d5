"""Reads of support requests the API needs, each in one query."""

from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from messages_app.models import Message

from .models import RequestEvent, SupportRequest

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
# index (messages_app migration 0003), `simple` configuration so that Russian and English
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


def search_requests(queryset: QuerySet, *, text: str) -> QuerySet:
    """Requests whose subject or requester's address holds every word of `text`
    (substrings, any case), or with a message whose text holds its words.

    Both halves are index searches on PostgreSQL (trigram indexes on the subject and the
    address, full-text on messages) joined by a UNION, so that a rare or absent word
    costs a few index probes instead of a pass over every request.
    """
    words = text.split()
    if not words:
        return queryset
    by_words = SupportRequest.objects.order_by()
    for word in words:
        by_words = by_words.filter(Q(subject__icontains=word) | Q(requester_email__icontains=word))
    vendor = connections[queryset.db].vendor
    matching = by_words.values("pk").union(_matching_message_requests(text, vendor=vendor))
    return queryset.filter(pk__in=matching)
