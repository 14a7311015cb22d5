"""The outbox: outbound mail is a Message row written in the caller's transaction.

Delivery is triggered after commit; if the broker is unreachable at that moment the
row stays `pending` and the periodic re-drive sends it later.
"""

import logging
from functools import partial

from django.conf import settings
from django.core.mail import make_msgid
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from operators_app.models import Operator
from requests_app.models import Party, SupportRequest

from .delivery import clean_header_value, clean_message_ids
from .models import DeliveryStatus, Direction, Kind, Message
from .tasks import deliver_message_task

logger = logging.getLogger(__name__)

# Mail clients and servers choke on very long References headers; keep the first
# message (the thread root) and the newest ones.
MAX_REFERENCES = 20


def new_message_id() -> str:
    """A fresh RFC 5322 Message-ID on the service's own domain, angle brackets included."""
    return make_msgid(domain=settings.MESSAGE_ID_DOMAIN)


def trim_references(ids: list[str], limit: int = MAX_REFERENCES) -> list[str]:
    """Keep the thread root and the newest ids when a References chain grows past `limit`."""
    if len(ids) <= limit:
        return ids
    return [ids[0], *ids[-(limit - 1) :]]


def thread_headers(support_request: SupportRequest) -> tuple[str, str]:
    """In-Reply-To and References that thread a new mail under the requester's latest mail."""
    latest = (
        Message.objects.filter(
            request=support_request, direction=Direction.INBOUND, kind=Kind.REQUESTER
        )
        .exclude(rfc_message_id="")
        .order_by("-created_at", "-id")
        .only("rfc_message_id", "references")
        .first()
    )
    if latest is None:
        return "", ""
    own = clean_message_ids(latest.rfc_message_id)
    if not own:
        return "", ""
    chain = [ref for ref in clean_message_ids(latest.references) if ref != own[0]]
    return own[0], " ".join(trim_references([*chain, own[0]]))


def record_message(*, support_request: SupportRequest, message: Message) -> None:
    """Bump the request's message counters for a message just stored on it."""
    updates = {"message_count": F("message_count") + 1, "last_message_at": message.created_at}
    if message.kind in (Kind.REQUESTER, Kind.OPERATOR):
        updates["last_reply_by"] = (
            Party.REQUESTER if message.kind == Kind.REQUESTER else Party.OPERATOR
        )
    updates["updated_at"] = timezone.now()
    SupportRequest.objects.filter(pk=support_request.pk).update(**updates)


def queue_outbound_message(
    *,
    support_request: SupportRequest,
    kind: str,
    subject: str,
    body: str,
    html: str = "",
    operator: Operator | None = None,
) -> Message:
    """Store an outbound mail to the requester as `pending` and send it after commit."""
    now = timezone.now()
    in_reply_to, references = thread_headers(support_request)
    message = Message.objects.create(
        request=support_request,
        direction=Direction.OUTBOUND,
        kind=kind,
        author_email=settings.SUPPORT_EMAIL,
        author_name=operator.name if operator else settings.SUPPORT_NAME,
        operator=operator,
        subject=clean_header_value(subject)[:500],
        body=body,
        reply=body,
        html=html,
        rfc_message_id=new_message_id(),
        in_reply_to=in_reply_to,
        references=references,
        date=now,
        created_at=now,
        delivery_status=DeliveryStatus.PENDING,
        next_attempt_at=now,
    )
    record_message(support_request=support_request, message=message)
    transaction.on_commit(partial(enqueue_delivery, message.pk), robust=True)
    return message


def enqueue_delivery(message_id: int) -> None:
    """Hand a pending message to Celery; a broker outage is logged, the re-drive retries."""
    try:
        # Without a broker (eager mode) this sends right here, inside the web request:
        # nothing it raises may reach the caller, the row keeps the error instead.
        deliver_message_task.delay(message_id)
    except Exception:
        logger.warning(
            "Could not queue delivery of message %s; the periodic re-drive will send it",
            message_id,
            exc_info=True,
        )
