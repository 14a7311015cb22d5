"""What the request lifecycle refuses: each error's HTTP status and machine code (API.md)."""

from typing import Any

from servicedesk.exceptions import ConflictError, NotPermittedError


class InvalidTransitionError(ConflictError):
    code = "invalid_transition"
    default_detail = "The request cannot make this status change."


class AlreadyTakenError(ConflictError):
    code = "already_taken"
    default_detail = "Another operator already holds this request."


class NotHolderError(NotPermittedError):
    default_detail = "Only the operator holding this request, or staff, may do this."


class OpenRequestExistsError(ConflictError):
    """Names the requester's open request, so a client can go there instead."""

    code = "open_request_exists"
    default_detail = "This requester already has an open request."

    def __init__(self, detail: str | None = None, *, request_id: int):
        self.request_id = request_id
        super().__init__(detail)

    @property
    def extra(self) -> dict[str, Any]:
        return {"request_id": self.request_id}
