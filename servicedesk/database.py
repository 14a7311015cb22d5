"""A database that went away mid-request: a 503 in the API's error shape, never a 500.

PostgreSQL restarting, failing over or terminating a backend (`pg_terminate_backend`)
breaks the connection a request holds. Django raises OperationalError, and
InterfaceError on the next use of the dead connection. The API answers 503
`database_unavailable`; a GET or HEAD (idempotent) is first retried once on a fresh
connection, so a single dropped connection costs a reader nothing.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
DETAIL = "The database is unavailable right now; nothing was changed. Retry in a moment."
CODE = "database_unavailable"
RETRY_AFTER_SECONDS = 2
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def drop_broken_connections() -> None:
    """Close connections that errored and no longer answer, so the next query reconnects."""
    for connection in connections.all(initialized_only=True):
        if (
            connection.connection is not None
            and not connection.in_atomic_block
            and not connection.is_usable()
        ):
            connection.close()


def unavailable_response(request) -> HttpResponse:
    """The 503 of a request whose database went away (JSON under /api/, text elsewhere)."""
    request.database_unavailable = True
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": DETAIL, "code": CODE}, status=503)
    else:
        response = HttpResponse(DETAIL, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def current_exception_is_database_unavailable() -> bool:
    """In Django's handler500: was the error being handled a lost database?"""
    return is_database_unavailable(sys.exc_info()[1])


class DatabaseRetryMiddleware:
    """Retry an idempotent request once when the database went away under it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "database_unavailable", False) and request.method in _IDEMPOTENT:
            logger.warning("Database connection lost answering %s; retrying once", request.path)
            drop_broken_connections()
            request.database_unavailable = False
            response = self.get_response(request)
        if getattr(request, "database_unavailable", False):
            drop_broken_connections()
        return response
