"""Every write to messages: operators' replies (and, in ingestion, inbound mail)."""

from django.db import transaction

from operators_app.models import Operator
from requests_app.models import SupportRequest
from servicedesk.exceptions import InvalidTransitionError

from .models import Kind, Message
from .notices import with_token
from .outbox import queue_outbound_message


def post_reply(
    *, request_id: int, operator: Operator, body: str, subject: str | None = None
) -> Message:
    """Store an operator's reply to an open request and queue it to the requester."""
    with transaction.atomic():
        support_request = SupportRequest.objects.select_for_update().get(pk=request_id)
        if not support_request.is_open:
            raise InvalidTransitionError("A closed request cannot receive replies.")
        subject = subject or f"Re: {support_request.subject}".strip()
        return queue_outbound_message(
            support_request=support_request,
            kind=Kind.OPERATOR,
            subject=with_token(subject, support_request),
            body=body,
            operator=operator,
        )
