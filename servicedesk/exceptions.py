"""Domain errors and the one DRF exception handler that maps every error to API.md's shapes."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from servicedesk import database

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the operation; carries its HTTP status and machine code."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_detail = "The operation is not allowed."

    def __init__(self, detail: str | None = None):
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    @property
    def extra(self) -> dict:
        """Fields the error body carries beside `detail` and `code`."""
        return {}


class InvalidTransitionError(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "invalid_transition"
    default_detail = "The request cannot make this status change."


class AlreadyTakenError(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "already_taken"
    default_detail = "Another operator already holds this request."


class NotHolderError(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    default_detail = "Only the operator holding this request, or staff, may do this."


class OpenRequestExistsError(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "open_request_exists"
    default_detail = "This requester already has an open request."

    def __init__(self, detail: str | None = None, *, request_id: int):
        self.request_id = request_id
        super().__init__(detail)

    @property
    def extra(self) -> dict:
        return {"request_id": self.request_id}


class NoOperatorProfileError(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "no_operator_profile"
    default_detail = "This user has no active operator profile."


class InvalidCredentialsError(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_credentials"
    default_detail = "Unable to log in with the provided username and password."


class WebhookNotConfiguredError(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "webhook_not_configured"
    default_detail = (
        "The inbound webhook is disabled: INBOUND_WEBHOOK_SECRET is not configured on the server."
    )


class InvalidSignatureError(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_signature"
    default_detail = (
        "The request is not signed with the webhook secret, or its timestamp is not "
        "within the allowed clock window."
    )


class PayloadTooLargeError(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"
    default_detail = "The request body is larger than the server accepts."


class TooManyMessagesError(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_many_messages"
    default_detail = "The batch holds more messages than the server accepts."


class IngestUnavailableError(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "ingest_unavailable"
    default_detail = "The batch could not be stored right now; nothing was stored. Retry later."


class ErrorSerializer(serializers.Serializer):
    """The shape of every error that is not field validation."""

    detail = serializers.CharField(help_text="A human sentence saying what was wrong.")
    code = serializers.CharField(help_text="A stable machine code, e.g. `already_taken`.")


class ValidationErrorSerializer(serializers.Serializer):
    """Field validation errors: `{"<field>": ["<message>", ...], ...}` (documentation only)."""


class ValidationErrorSerializerExtension(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": "Field validation errors: each invalid field with its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }


def _error(detail, code: str, status_code: int, headers=None) -> Response:
    return Response({"detail": str(detail), "code": code}, status=status_code, headers=headers)


def _non_field_error(exc: exceptions.ValidationError) -> Response | None:
    """A validation error about the body as a whole is not a field error: `{"detail", "code"}`."""
    detail = exc.detail
    if isinstance(detail, dict) and set(detail) == {"non_field_errors"}:
        detail = detail["non_field_errors"]
    if not isinstance(detail, list) or not detail or not all(isinstance(d, str) for d in detail):
        return None
    code = getattr(detail[0], "code", None) or exc.default_code
    return _error(" ".join(str(d) for d in detail), code, exc.status_code)


def exception_handler(exc, context):
    """Map domain errors, Django's and DRF's exceptions to `{"detail", "code"}` or field errors."""
    if isinstance(exc, DomainError):
        set_rollback()
        response = _error(exc.detail, exc.code, exc.status_code)
        response.data.update(exc.extra)
        return response
    if database.is_database_unavailable(exc):
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
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )

    if isinstance(exc, exceptions.ValidationError):
        response = _non_field_error(exc) or drf_exception_handler(exc, context)
        if isinstance(response.data, list):
            response.data = {"non_field_errors": response.data}
        return response

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail
        if isinstance(detail, dict | list):
            # Non-field errors with structured detail keep DRF's shape.
            return Response(detail, status=exc.status_code, headers=headers)
        return _error(
            detail, getattr(detail, "code", None) or exc.default_code, exc.status_code, headers
        )

    view = context.get("view")
    request = context.get("request")
    logger.exception(
        "Unhandled exception in %s answering %s %s",
        view.__class__.__name__,
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
    )
    if settings.DEBUG:
        # Let Django show its technical 500 page to the developer.
        return None
    set_rollback()
    return _error(
        "The server hit an unexpected error; it has been logged.",
        "server_error",
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _is_api(request) -> bool:
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
def api_not_found(request, *args, **kwargs):
    """Catch-all under /api/: a JSON 404 for any method."""
    detail = "No API route matches this URL."
    suggestion = _did_you_mean(request.path)
    if suggestion:
        detail += f" API URLs end with '/': did you mean {suggestion}?"
    return JsonResponse({"detail": detail, "code": "not_found"}, status=404)


def handler400(request, exception=None):
    """JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    """JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action.", "code": "forbidden"},
            status=403,
        )
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    """JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def handler500(request):
    """JSON under /api/, Django's page elsewhere; a lost database is a 503."""
    if database.current_exception_is_database_unavailable():
        return database.unavailable_response(request)
    if _is_api(request):
        return JsonResponse(
            {
                "detail": "The server hit an unexpected error; it has been logged.",
                "code": "server_error",
            },
            status=500,
        )
    return defaults.server_error(request)
