"""What stored mail is told and leaves in the history: the arrival events of a batch and
the acknowledgement of each request it opened, written once per batch, in one place."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count

from messages_app.inbound.batch import Candidate
from messages_app.models import Direction, Kind, Message
from messages_app.outbound.notices import Notice, queue_notices
from requests_app.events import EventRecord, record_events
from requests_app.models import ActorType, EventType, SupportRequest

logger = logging.getLogger(__name__)

# Acknowledgements to one address are capped per hour (AUTO_REPLY_LIMIT_PER_HOUR).
AUTO_REPLY_WINDOW = timedelta(hours=1)


def acknowledge(stored: list[Candidate], *, now: datetime) -> None:
    """Record the stored mail's arrival and queue the acknowledgement of the requests it
    opened, all in a few queries, except to automatic mail or flooded inboxes. `stored` is
    in batch order; call once per batch, after storing."""
    wanted = [c for c in stored if c.created and not c.email.is_automatic]
    if not wanted:
        record_events(arrivals(stored))
        return
    recent = _recent_automatic_mail({c.sender for c in wanted}, since=now - AUTO_REPLY_WINDOW)
    # Like every notice, the acknowledgement threads under the requester's latest mail with
    # a Message-ID; a new request holds only mail of this batch, stored in batch order.
    latest = {
        c.support_request.pk: c.message
        for c in stored
        if c.support_request is not None and c.message is not None and c.message.rfc_message_id
    }
    threads: list[tuple[SupportRequest, Message]] = []
    for candidate in wanted:
        if recent.get(candidate.sender, 0) >= settings.AUTO_REPLY_LIMIT_PER_HOUR:
            logger.info("Acknowledgement withheld: automatic mail limit reached for a requester")
            continue
        support_request, message = candidate.support_request, candidate.message
        assert support_request is not None
        assert message is not None
        threads.append((support_request, latest.get(support_request.pk, message)))
    queue_notices(threads=threads, notice=Notice.ACKNOWLEDGEMENT, events=arrivals(stored))


def arrivals(stored: list[Candidate]) -> list[EventRecord]:
    """The history events of stored mail: `created` for a request it opened, else
    `message_received`; each names the message and the route that placed it."""
    records = []
    for candidate in stored:
        assert candidate.support_request is not None
        assert candidate.message is not None
        records.append(
            EventRecord(
                candidate.support_request.pk,
                EventType.CREATED if candidate.created else EventType.MESSAGE_RECEIVED,
                actor_type=ActorType.REQUESTER,
                data={"message_id": candidate.message.pk, "route": str(candidate.route or "")},
            )
        )
    return records


def _recent_automatic_mail(senders: set[str], *, since: datetime) -> dict[str, int]:
    """How many automatic mails each address received since `since`."""
    return dict(
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            kind=Kind.AUTO,
            created_at__gte=since,
            request__requester_email__in=senders,
        )
        .values("request__requester_email")
        .annotate(count=Count("pk"))
        .values_list("request__requester_email", "count")
    )
