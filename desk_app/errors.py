"""The contract's errors, in words an operator reads (and in their language)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.serializers import as_serializer_error

from servicedesk.exceptions import DomainError


def _messages() -> dict[str, str]:
    return {
        "already_taken": _("Another operator took this request first."),
        "invalid_transition": _("This request is closed: it can no longer change."),
        "permission_denied": _(
            "Another operator holds this request; only staff may close it or hand it on."
        ),
        "attachments_too_large": _("The attached files are too large, one by one or together."),
        "open_request_exists": _("This requester already has an open request."),
    }


def describe(
    error: DomainError | ValidationError | DjangoValidationError,
) -> list[str]:
    """What went wrong, one sentence a line."""
    if isinstance(error, DomainError):
        return [_messages().get(error.code, str(error.detail))]
    errors = as_serializer_error(error)
    return [str(text) for texts in errors.values() for text in texts]
