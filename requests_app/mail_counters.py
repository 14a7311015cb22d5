"""A request's mail counters (`message_count`, `last_message_at`, `last_reply_by`,
`updated_at`): the one writer of them for mail, used by the lifecycle services and by the
outbox, which sits below the services and so cannot call them."""

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime

from django.db.models import Case, F, PositiveIntegerField, When
from django.utils import timezone

from requests_app.models import Party, Status, SupportRequest


def count_messages(
    *, request_ids: Collection[int], at: datetime, last_reply_by: Party | None = None
) -> int:
    """Count one new message on each request, in one statement; `last_reply_by` changes
    whose turn it is (None: a notice, whose turn does not change). Answers the rows
    updated."""
    updates: dict[str, object] = {"message_count": F("message_count") + 1, "last_message_at": at}
    if last_reply_by is not None:
        updates["last_reply_by"] = last_reply_by
    updates["updated_at"] = timezone.now()
    return SupportRequest.objects.filter(pk__in=list(request_ids)).update(**updates)


def count_requester_mail(*, counts: Mapping[int, int], at: datetime) -> int:
    """Count new requester mail on open requests (request id -> how many) in one statement,
    whatever their number; answers the rows updated (a closed request is left alone)."""
    if not counts:
        return 0
    by_count: dict[int, list[int]] = defaultdict(list)
    for request_id, count in counts.items():
        by_count[count].append(request_id)
    increments = [
        When(pk__in=ids, then=F("message_count") + count) for count, ids in by_count.items()
    ]
    return (
        SupportRequest.objects.filter(pk__in=list(counts))
        .exclude(status=Status.CLOSED)
        .update(
            message_count=Case(
                *increments, default=F("message_count"), output_field=PositiveIntegerField()
            ),
            last_message_at=at,
            last_reply_by=Party.REQUESTER,
            updated_at=at,
        )
    )
