"""What the request lifecycle refuses: each error's HTTP status and machine code (API.md)."""

from typing import Any

from rest_framework import status

from servicedesk.exceptions import DomainError


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
    def extra(self) -> dict[str, Any]:
        return {"request_id": self.request_id}
