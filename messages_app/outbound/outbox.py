"""The outbox: outbound mail is a Message row written in the caller's transaction.

Delivery is triggered after commit; if the broker is unreachable at that moment the
row stays `pending` and the periodic re-drive sends it later.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.core.mail import make_msgid
from django.db import transaction
from django.utils import timezone

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from messages_app.outbound.delivery import give_up_after
from messages_app.parsing.addresses import CONTENT_ID_DOMAIN, is_content_message_id, message_ids
from messages_app.parsing.text import clean_header_value
from messages_app.tasks import deliver_message_task
from operators_app.models import Operator
from requests_app.mail_counters import count_messages
from requests_app.models import Party, SupportRequest

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


def thread_headers_after(message: Message) -> tuple[str, str]:
    """In-Reply-To and References that thread a new mail under `message`, from its own
    Message-ID and References alone (no query)."""
    own = [i for i in message_ids(message.rfc_message_id) if not is_content_message_id(i)]
    if not own:
        return "", ""
    chain = [ref for ref in message_ids(message.references) if ref != own[0]]
    return own[0], " ".join(trim_references([*chain, own[0]]))


def thread_headers(support_request: SupportRequest) -> tuple[str, str]:
    """In-Reply-To and References that thread a new mail under the requester's latest mail."""
    latest = (
        Message.objects.filter(
            request=support_request, direction=Direction.INBOUND, kind=Kind.REQUESTER
        )
        .exclude(rfc_message_id="")
        .exclude(rfc_message_id__endswith=f"@{CONTENT_ID_DOMAIN}>")
        .order_by("-created_at", "-id")
        .only("rfc_message_id", "references")
        .first()
    )
    return thread_headers_after(latest) if latest else ("", "")


@dataclass(frozen=True)
class OutboundMail:
    """One mail to a request's requester, its threading headers already worked out."""

    support_request: SupportRequest
    subject: str
    body: str
    html: str = ""
    in_reply_to: str = ""
    references: str = ""
    # The new text alone (the API's `reply`), when `body` adds a signature to it.
    reply: str | None = None


def record_messages(*, request_ids: list[int], kind: Kind, created_at: datetime) -> None:
    """Count one message of `kind` on each request, in one statement (requests_app writes
    the counters): a requester's or an operator's mail also says whose turn it is."""
    turns: dict[str, Party] = {Kind.REQUESTER: Party.REQUESTER, Kind.OPERATOR: Party.OPERATOR}
    count_messages(request_ids=request_ids, at=created_at, last_reply_by=turns.get(kind))


def queue_outbound_message(
    *,
    support_request: SupportRequest,
    kind: Kind,
    subject: str,
    body: str,
    html: str = "",
    operator: Operator | None = None,
    reply: str | None = None,
) -> Message:
    """Store an outbound mail to the requester as `pending` and send it after commit."""
    in_reply_to, references = thread_headers(support_request)
    mail = OutboundMail(support_request, subject, body, html, in_reply_to, references, reply)
    [message] = queue_outbound_messages(mails=[mail], kind=kind, operator=operator)
    return message


def queue_outbound_messages(
    *, mails: list[OutboundMail], kind: Kind, operator: Operator | None = None
) -> list[Message]:
    """Store outbound mails to distinct requests as `pending` in one insert and one update
    whatever their number, and send them after commit."""
    if not mails:
        return []
    request_ids = [mail.support_request.pk for mail in mails]
    if len(set(request_ids)) != len(request_ids):
        # One UPDATE adds 1 to each request: a second mail to one of them would go uncounted.
        raise ValueError("queue_outbound_messages takes at most one mail per request.")
    now = timezone.now()
    messages = Message.objects.bulk_create(
        [
            Message(
                request=mail.support_request,
                direction=Direction.OUTBOUND,
                kind=kind,
                author_email=settings.SUPPORT_EMAIL,
                author_name=operator.name if operator else settings.SUPPORT_NAME,
                operator=operator,
                subject=clean_header_value(mail.subject)[:500],
                body=mail.body,
                reply=mail.body if mail.reply is None else mail.reply,
                html=mail.html,
                rfc_message_id=new_message_id(),
                in_reply_to=mail.in_reply_to,
                references=mail.references,
                date=now,
                created_at=now,
                delivery_status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                give_up_at=now + give_up_after(),
            )
            for mail in mails
        ]
    )
    record_messages(request_ids=request_ids, kind=kind, created_at=now)
    transaction.on_commit(
        partial(enqueue_deliveries, [message.pk for message in messages]), robust=True
    )
    return messages


# After a publish fails, this process stops trying for this long: while the broker is
# down each try costs its connect timeout, and a batch that opens 100 requests must not
# pay it 100 times. The rows stay due; beat's re-drive queues them.
BROKER_PAUSE_SECONDS = 15
_broker_paused_until = 0.0


def _broker_paused() -> bool:
    return time.monotonic() < _broker_paused_until


def enqueue_deliveries(message_ids: list[int]) -> None:
    """Hand pending messages to Celery; at the first failure the rest is left to the
    re-drive (and publishing pauses a few seconds)."""
    for index, message_id in enumerate(message_ids):
        if enqueue_delivery(message_id) is False:
            if index + 1 < len(message_ids):
                logger.warning(
                    "Left %s more message(s) of the batch to the periodic re-drive",
                    len(message_ids) - index - 1,
                )
            return


def enqueue_delivery(message_id: int) -> bool:
    """Hand a pending message to Celery; False when the broker is out (logged, the
    re-drive sends it)."""
    global _broker_paused_until
    if _broker_paused():
        logger.info(
            "Broker unavailable a moment ago; the re-drive will queue message %s", message_id
        )
        return False
    try:
        # Without a broker (eager mode) this sends right here, inside the web request:
        # nothing it raises may reach the caller, the row keeps the error instead.
        deliver_message_task.delay(message_id)
    except Exception:
        _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning(
            "Could not queue delivery of message %s; the periodic re-drive will send it",
            message_id,
            exc_info=True,
        )
        return False
    return True


def send_again(*, message_ids: list[int]) -> list[int]:
    """Queue failed outbound messages for delivery again, from a fresh start; the ids queued
    (messages that had not failed are left alone)."""
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update()
            .filter(pk__in=message_ids, delivery_status=DeliveryStatus.FAILED)
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        Message.objects.filter(pk__in=ids).update(
            delivery_status=DeliveryStatus.PENDING,
            attempts=0,
            unfinished_attempts=0,
            next_attempt_at=now,
            give_up_at=now + give_up_after(),
            last_error="",
        )
        transaction.on_commit(partial(enqueue_deliveries, ids), robust=True)
    return ids
