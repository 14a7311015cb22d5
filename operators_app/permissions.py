"""Who may call what: operators with an active profile, and staff for managing operators.

An unauthenticated caller never reaches these checks' messages: DRF answers 401 with
`WWW-Authenticate: Token` because token authentication comes first.
"""

from rest_framework.permissions import BasePermission

from operators_app.errors import NoOperatorProfileError
from operators_app.selectors import get_active_operator


def _is_authenticated(request) -> bool:
    return bool(request.user and request.user.is_authenticated)


class IsActiveOperator(BasePermission):
    """An authenticated user with an active operator profile (403 `no_operator_profile`)."""

    message = NoOperatorProfileError.default_detail
    code = NoOperatorProfileError.code

    def has_permission(self, request, view) -> bool:
        return _is_authenticated(request) and get_active_operator(user=request.user) is not None


class IsStaff(BasePermission):
    """A staff user (403 `permission_denied`)."""

    message = "Only staff may manage operators."
    code = "permission_denied"

    def has_permission(self, request, view) -> bool:
        return _is_authenticated(request) and request.user.is_staff


class IsActiveOperatorOrStaff(BasePermission):
    """An operator, or staff without a profile (who manage operators)."""

    message = NoOperatorProfileError.default_detail
    code = NoOperatorProfileError.code

    def has_permission(self, request, view) -> bool:
        return _is_authenticated(request) and (
            request.user.is_staff or get_active_operator(user=request.user) is not None
        )
