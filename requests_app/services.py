"""Every write to a SupportRequest's status: take and close, under a row lock."""

from django.db import transaction
from django.utils import timezone

from messages_app.notices import Notice, queue_notice
from operators_app.models import Operator
from servicedesk.exceptions import AlreadyTakenError, InvalidTransitionError, NotHolderError

from .counts import requests_changed
from .models import TRANSITIONS, Status, SupportRequest


def _change_status(*, support_request: SupportRequest, to: str) -> list[str]:
    """Move a locked request to `to` if the status machine allows it; the one writer of `status`."""
    if to not in TRANSITIONS[support_request.status]:
        raise InvalidTransitionError(
            f"A request in status '{support_request.status}' cannot become '{to}'."
        )
    now = timezone.now()
    support_request.status = to
    changed = ["status", "updated_at"]
    if to == Status.IN_PROGRESS:
        support_request.taken_at = now
        changed.append("taken_at")
    elif to == Status.CLOSED:
        support_request.closed_at = now
        changed.append("closed_at")
    return changed


def _lock(request_id: int) -> SupportRequest:
    return SupportRequest.objects.select_for_update().get(pk=request_id)


def take_request(*, request_id: int, operator: Operator) -> SupportRequest:
    """Give a new request to `operator` and queue the "taken" notice; the holder may repeat it."""
    with transaction.atomic():
        support_request = _lock(request_id)
        if support_request.status == Status.IN_PROGRESS:
            if support_request.operator_id == operator.pk:
                return support_request
            raise AlreadyTakenError()
        changed = _change_status(support_request=support_request, to=Status.IN_PROGRESS)
        support_request.operator = operator
        support_request.save(update_fields=[*changed, "operator"])
        requests_changed()
        queue_notice(support_request=support_request, notice=Notice.TAKEN)
    return support_request


def close_request(
    *, request_id: int, operator: Operator | None, is_staff: bool = False
) -> SupportRequest:
    """Close an open request and queue the "closed" notice; another holder's request needs staff."""
    with transaction.atomic():
        support_request = _lock(request_id)
        if (
            support_request.status == Status.IN_PROGRESS
            and not is_staff
            and (operator is None or support_request.operator_id != operator.pk)
        ):
            raise NotHolderError(
                "This request is held by another operator; only staff may close it."
            )
        changed = _change_status(support_request=support_request, to=Status.CLOSED)
        support_request.save(update_fields=changed)
        requests_changed()
        queue_notice(support_request=support_request, notice=Notice.CLOSED)
    return support_request
