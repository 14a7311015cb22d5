"""The base of every domain error, the one DRF exception handler that maps errors to
API.md's shapes, and the JSON error pages Django answers under /api/.

Domain errors live beside the code that raises them (`requests_app.errors`,
`messages_app.errors`, `operators_app.errors`); this module imports no app.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from servicedesk import database

logger = logging.getLogger(__name__)

SERVER_ERROR_DETAIL = "The server hit an unexpected error; it has been logged."


class DomainError(Exception):
    """A business rule refused the operation; carries its HTTP status and machine code."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "invalid"
    default_detail: str = "The operation is not allowed."

    def __init__(self, detail: str | None = None):
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    @property
    def extra(self) -> dict[str, Any]:
        """Fields the error body carries beside `detail` and `code`."""
        return {}


class ConflictError(DomainError):
    """The object's state refuses the operation (409); each case names its own `code`."""

    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class NotPermittedError(DomainError):
    """The caller may not do this to this object: 403 `permission_denied`, DRF's own code,
    with a `default_detail` that says who may."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    default_detail = "You do not have permission to perform this action."


def _error(
    detail: object, code: str, status_code: int, headers: dict[str, str] | None = None
) -> Response:
    return Response({"detail": str(detail), "code": code}, status=status_code, headers=headers)


def _validation_error(exc: exceptions.ValidationError | DjangoValidationError) -> Response:
    """Field errors as `{"<field>": ["<message>", ...]}`; an error about the body as a whole
    (only non-field messages) as `{"detail", "code"}`."""
    errors = serializers.as_serializer_error(exc)
    messages = errors.get(api_settings.NON_FIELD_ERRORS_KEY)
    if (
        len(errors) == 1
        and isinstance(messages, list)
        and messages
        and all(isinstance(message, str) for message in messages)
    ):
        code = getattr(messages[0], "code", None) or exceptions.ValidationError.default_code
        return _error(" ".join(messages), code, status.HTTP_400_BAD_REQUEST)
    return Response(errors, status=status.HTTP_400_BAD_REQUEST)


def _database_unavailable(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    logger.warning("Database unavailable answering %s: %s", getattr(request, "path", "?"), exc)
    django_request = getattr(request, "_request", request)
    if django_request is not None:
        django_request.database_unavailable = True
    return _error(
        database.DETAIL,
        database.CODE,
        status.HTTP_503_SERVICE_UNAVAILABLE,
        {"Retry-After": str(database.RETRY_AFTER_SECONDS)},
    )


def _api_error(exc: exceptions.APIException) -> Response:
    headers = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait:
        headers["Retry-After"] = str(int(wait))
    detail = exc.detail
    if isinstance(detail, dict | list):
        # Non-field errors with structured detail keep DRF's shape.
        return Response(detail, status=exc.status_code, headers=headers)
    code = getattr(detail, "code", None) or exc.default_code
    return _error(detail, code, exc.status_code, headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors, Django's and DRF's exceptions to `{"detail", "code"}` or field
    errors. Anything else is a bug: it goes on to Django, which logs it with its traceback
    and answers 500 through `handler500`."""
    if database.is_database_unavailable(exc):
        return _database_unavailable(exc, context)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, DomainError):
        response = _error(exc.detail, exc.code, exc.status_code)
        response.data.update(exc.extra)
    elif isinstance(exc, exceptions.ValidationError | DjangoValidationError):
        response = _validation_error(exc)
    elif isinstance(exc, exceptions.APIException):
        response = _api_error(exc)
    else:
        return None
    set_rollback()
    return response


# --- Django's error pages ---------------------------------------------------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _did_you_mean(path: str) -> str | None:
    """The same path with its trailing slash, when that one exists."""
    if path.endswith("/"):
        return None
    try:
        match = resolve(path + "/")
    except Resolver404:
        return None
    return None if match.func is api_not_found else path + "/"


@csrf_exempt
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """Catch-all under /api/: a JSON 404 for any method."""
    detail = "No API route matches this URL."
    suggestion = _did_you_mean(request.path)
    if suggestion:
        detail += f" API URLs end with '/': did you mean {suggestion}?"
    return JsonResponse({"detail": detail, "code": "not_found"}, status=404)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    """JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    """JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action.", "code": "forbidden"},
            status=403,
        )
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """JSON under /api/, Django's page elsewhere; a lost database is a 503."""
    if database.current_exception_is_database_unavailable():
        return database.unavailable_response(request)
    if _is_api(request):
        return JsonResponse({"detail": SERVER_ERROR_DETAIL, "code": "server_error"}, status=500)
    return defaults.server_error(request)
