"""Reads of support requests the API needs, each in one query."""

from django.db.models import QuerySet

from requests_app.models import RequestEvent, SupportRequest

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
