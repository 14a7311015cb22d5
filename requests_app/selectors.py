"""Reads of support requests the API needs, each in one query."""

from django.db import connections
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from operators_app.models import Operator
from requests_app.models import RequestEvent, Status, SupportRequest
from requests_app.rows import REQUEST_COLUMNS

# The same for model instances, whose joined operator also needs its key.
_LIST_FIELDS = (*REQUEST_COLUMNS, "operator__id")


# Resolving 14 columns and a join costs more than compiling the page's SQL: done once here,
# and each list copies the result (never evaluated itself: filters always come on top).
_REQUEST_ROWS = SupportRequest.objects.values_list(*REQUEST_COLUMNS).order_by("-created_at", "-id")


def list_request_ids() -> QuerySet[SupportRequest]:
    """Every request, newest first, with nothing joined: the list's filters, ordering and
    count go on this, and a page's ids are read from an index alone (see `CountedRows`)."""
    return SupportRequest.objects.order_by("-created_at", "-id")


def estimated_request_count(using: str) -> int | None:
    """How many requests the table of database `using` holds by PostgreSQL's statistics
    (kept by autovacuum), without counting them; None elsewhere or before the table was
    first analysed."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
            [SupportRequest._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] > 0 else None


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
    # Counted per operator in a subquery: an index lookup of that operator's requests (at
    # scale, of its open ones: the partial index `request_desk_waiting_operator`, whose
    # predicate is this condition). Joined and aggregated instead, the planner may read
    # every request: it did at 100,000 requests (90 ms against 4 for this form).
    held_open = (
        SupportRequest.objects.filter(operator=OuterRef("pk"))
        .exclude(status=Status.CLOSED)
        .order_by()
        .values("operator")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return operators.annotate(open_requests=Coalesce(Subquery(held_open), 0))


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
