"""Every write to a SupportRequest: opening, take, assign, close (under a row lock), notes
and replies, each with its history event in the same transaction."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from messages_app.canned import render_canned_reply
from messages_app.models import OPERATOR_TEXT_MAX_CHARS, CannedReply, Direction, Kind, Message
from messages_app.outbound.compose import post_reply, queue_operator_mail
from messages_app.outbound.notices import Notice, queue_notice
from operators_app.models import Operator
from requests_app import mail_counters
from requests_app.counts import requests_changed
from requests_app.errors import (
    AlreadyTakenError,
    InvalidTransitionError,
    NotHolderError,
    OpenRequestExistsError,
)
from requests_app.events import record_event
from requests_app.models import TRANSITIONS, EventType, Party, Status, SupportRequest
from servicedesk.metrics import (
    first_response_histogram,
    observe_after_commit,
    time_to_close_histogram,
)


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
        support_request.operator_name = operator.name
        support_request.save(update_fields=[*changed, "operator", "operator_name"])
        requests_changed()
        record_event(request_id=request_id, type=EventType.TAKEN, operator=operator)
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
        record_event(request_id=request_id, type=EventType.CLOSED, operator=operator)
        observe_after_commit(
            time_to_close_histogram, support_request.created_at, support_request.closed_at
        )
        queue_notice(support_request=support_request, notice=Notice.CLOSED)
    return support_request


def _open_request_of(requester_email: str) -> SupportRequest | None:
    return (
        SupportRequest.objects.filter(requester_email=requester_email)
        .exclude(status=Status.CLOSED)
        .first()
    )


def open_request(
    *,
    operator: Operator,
    requester_email: str,
    requester_name: str = "",
    subject: str,
    body: str,
    files: Sequence[UploadedFile] = (),
) -> SupportRequest:
    """Open a request held by `operator` whose first message is their mail to the requester.

    The one-open-request index decides, not a check first: a requester with an open
    request raises OpenRequestExistsError naming it.
    """
    requester_email = requester_email.strip().lower()
    now = timezone.now()
    with transaction.atomic():
        support_request = SupportRequest(
            subject=subject,
            requester_email=requester_email,
            requester_name=requester_name,
            status=Status.IN_PROGRESS,
            operator=operator,
            operator_name=operator.name,
            created_at=now,
            taken_at=now,
        )
        try:
            with transaction.atomic():
                support_request.save(force_insert=True)
        except IntegrityError:
            existing = _open_request_of(requester_email)
            if existing is None:
                raise
            raise OpenRequestExistsError(
                f"{requester_email} already has an open request (#{existing.pk}).",
                request_id=existing.pk,
            ) from None
        requests_changed()
        message = queue_operator_mail(
            support_request=support_request,
            operator=operator,
            subject=subject,
            body=body,
            attachments=files,
        )
        record_event(
            request_id=support_request.pk,
            type=EventType.CREATED,
            operator=operator,
            data={"message_id": message.pk},
        )
    support_request.refresh_from_db()
    return support_request


def assign_request(*, request_id: int, actor: Operator, to_operator_id: int) -> SupportRequest:
    """Hand an open request to an operator: staff any, the holder their own; a new request
    becomes in progress and gets the "taken" notice, a handover sends no mail."""
    with transaction.atomic():
        support_request = _lock(request_id)
        if support_request.status == Status.CLOSED:
            raise InvalidTransitionError("A closed request cannot be assigned.")
        is_holder = support_request.operator_id == actor.pk
        if not actor.user.is_staff and not (
            support_request.status == Status.IN_PROGRESS and is_holder
        ):
            raise NotHolderError("Only staff, or the operator holding this request, may assign it.")
        target = (
            Operator.objects.select_related("user")
            .filter(pk=to_operator_id, user__is_active=True)
            .first()
        )
        if target is None:
            raise ValidationError({"operator": ["There is no active operator with this id."]})
        if (
            support_request.status == Status.IN_PROGRESS
            and support_request.operator_id == target.pk
        ):
            return support_request
        from_operator_id = support_request.operator_id
        if support_request.status == Status.NEW:
            changed = _change_status(support_request=support_request, to=Status.IN_PROGRESS)
        else:
            changed = ["updated_at"]
        support_request.operator = target
        support_request.operator_name = target.name
        support_request.save(update_fields=[*changed, "operator", "operator_name"])
        requests_changed()
        record_event(
            request_id=request_id,
            type=EventType.ASSIGNED,
            operator=actor,
            data={"from_operator": from_operator_id, "to_operator": target.pk},
        )
        if "status" in changed:
            queue_notice(support_request=support_request, notice=Notice.TAKEN)
    return support_request


def _message_written(
    *, request_id: int, type: EventType, operator: Operator, message: Message
) -> None:
    """The lists' counts go stale and the request's history names the message."""
    requests_changed()
    record_event(
        request_id=request_id, type=type, operator=operator, data={"message_id": message.pk}
    )


def add_note(*, request_id: int, operator: Operator, body: str) -> Message:
    """Store an internal note on a request (closed ones too); it is never mailed and changes
    neither whose turn it is nor the time of the last mail."""
    with transaction.atomic():
        support_request = SupportRequest.objects.select_for_update(no_key=True).get(pk=request_id)
        now = timezone.now()
        message = Message.objects.create(
            request=support_request,
            direction=Direction.INTERNAL,
            kind=Kind.NOTE,
            author_email=operator.user.email or settings.SUPPORT_EMAIL,
            author_name=operator.name,
            operator=operator,
            body=body,
            reply=body,
            date=now,
            created_at=now,
        )
        SupportRequest.objects.filter(pk=request_id).update(
            message_count=support_request.message_count + 1, updated_at=now
        )
        _message_written(
            request_id=request_id, type=EventType.NOTED, operator=operator, message=message
        )
    return message


def reply_to_request(
    *,
    request_id: int,
    operator: Operator,
    body: str | None = None,
    subject: str | None = None,
    canned_reply: CannedReply | None = None,
    attachments: Sequence[UploadedFile] = (),
) -> Message:
    """An operator's reply (its text, or a canned reply filled in for this request) with its
    files, its event and, for the first reply, `first_response_at`."""
    with transaction.atomic():
        if canned_reply is not None:
            support_request = SupportRequest.objects.select_related("operator").get(pk=request_id)
            body = render_canned_reply(
                canned_reply=canned_reply, support_request=support_request, operator=operator
            )
            if len(body) > OPERATOR_TEXT_MAX_CHARS:
                # Placeholders can make a canned reply longer than any typed reply may be.
                raise ValidationError(
                    {
                        "canned_reply": [
                            f"Filled in for this request, the reply would be longer than "
                            f"{OPERATOR_TEXT_MAX_CHARS:,} characters."
                        ]
                    }
                )
        if body is None:
            raise ValueError("A reply needs its text or a canned reply.")
        message = post_reply(
            request_id=request_id,
            operator=operator,
            body=body,
            subject=subject,
            attachments=attachments,
        )
        if SupportRequest.objects.filter(pk=request_id, first_response_at__isnull=True).update(
            first_response_at=message.created_at
        ):
            observe_after_commit(
                first_response_histogram, message.request.created_at, message.created_at
            )
        _message_written(
            request_id=request_id, type=EventType.REPLIED, operator=operator, message=message
        )
    return message


# ---------------------------------------------------------------------------
# Requests opened and counted by inbound mail (messages_app.inbound calls these)
# ---------------------------------------------------------------------------


class RequestOpenedMeanwhileError(Exception):
    """A concurrent writer opened a request for a requester whose mail was about to open
    one: read the open requests again (the one-open-request index made this writer wait
    for the other's commit, so a fresh read sees its request)."""


@dataclass(frozen=True)
class MailOpening:
    """A request that inbound mail opens: its requester, what it is about, and how many
    of the requester's mails it starts with."""

    requester_email: str
    requester_name: str
    subject: str
    message_count: int = 1


def find_open_requests(*, requester_emails: Collection[str]) -> dict[str, SupportRequest]:
    """The requesters' open requests by address, read without a lock: where their mail goes."""
    rows = (
        SupportRequest.objects.filter(requester_email__in=list(requester_emails))
        .exclude(status=Status.CLOSED)
        .only("pk", "requester_email", "status")
    )
    return {row.requester_email: row for row in rows}


def open_requests_for_mail(
    *, openings: Sequence[MailOpening], now: datetime
) -> dict[str, SupportRequest]:
    """Open a request for each requester of `openings` (in the order their numbers should
    follow), in one insert; by address.

    Rows are inserted in address order, so that concurrent batches wait for each other
    instead of deadlocking; the one-open-request index decides a race, and
    RequestOpenedMeanwhileError says that this writer lost it.
    """
    if not openings:
        return {}
    ids = _reserve_request_ids(len(openings)) if len(openings) > 1 else None
    if ids is None:
        # One writer at a time (SQLite), or one row: insert in item order, the ids follow.
        in_insert_order = list(openings)
    else:
        in_insert_order = sorted(openings, key=lambda opening: opening.requester_email)
    reserved = dict(zip((o.requester_email for o in openings), ids or [], strict=False))
    new_requests = [
        SupportRequest(
            pk=reserved.get(opening.requester_email),
            subject=opening.subject,
            requester_email=opening.requester_email,
            requester_name=opening.requester_name,
            status=Status.NEW,
            created_at=now,
            last_message_at=now,
            message_count=opening.message_count,
            last_reply_by=Party.REQUESTER,
        )
        for opening in in_insert_order
    ]
    try:
        with transaction.atomic():
            rows = SupportRequest.objects.bulk_create(new_requests)
    except IntegrityError:
        if find_open_requests(requester_emails=[o.requester_email for o in openings]):
            raise RequestOpenedMeanwhileError() from None
        raise
    return {row.requester_email: row for row in rows}


def _reserve_request_ids(count: int) -> list[int] | None:
    """On PostgreSQL, `count` new request ids from the table's sequence, ascending, so that
    rows inserted in address order can still be numbered in item order. None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    meta = SupportRequest._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def count_requester_mail(*, counts: Mapping[int, int], now: datetime) -> bool:
    """Lock the requests that received mail (request id -> how many) in id order until
    commit and count it; False, counting nothing, if one of them was closed after the mail
    was routed there (the mail must then open a new request).

    A request locked here cannot be closed before the caller commits, and rows locked in
    one order by every batch cannot deadlock.
    """
    if not counts:
        return True
    still_open = set(
        SupportRequest.objects.select_for_update(no_key=True)
        .filter(pk__in=list(counts))
        .exclude(status=Status.CLOSED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if still_open != set(counts):
        return False
    return mail_counters.count_requester_mail(counts=counts, at=now) == len(counts)


def edit_request(*, support_request: SupportRequest) -> SupportRequest:
    """Save an edit of a request's own fields made in the admin (its subject, the
    requester's name); the status and the holder change only through the services above."""
    with transaction.atomic():
        support_request.save()
        requests_changed()
    return support_request
