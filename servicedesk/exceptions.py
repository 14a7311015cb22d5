"""Domain errors and the one DRF exception handler that maps every error to API.md's shapes."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the operation; carries its HTTP status and machine code."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_detail = "The operation is not allowed."

    def __init__(self, detail: str | None = None):
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


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


class NoOperatorProfileError(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "no_operator_profile"
    default_detail = "This user has no active operator profile."


def _error(detail, code: str, status_code: int, headers=None) -> Response:
    return Response({"detail": str(detail), "code": code}, status=status_code, headers=headers)


def exception_handler(exc, context):
    """Map domain errors, Django's and DRF's exceptions to `{"detail", "code"}` or field errors."""
    if isinstance(exc, DomainError):
        return _error(exc.detail, exc.code, exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )

    if isinstance(exc, exceptions.ValidationError):
        response = drf_exception_handler(exc, context)
        if isinstance(response.data, list):
            response.data = {"non_field_errors": response.data}
        return response

    if isinstance(exc, exceptions.APIException):
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

    logger.exception("Unhandled exception in %s", context.get("view").__class__.__name__)
    return None
