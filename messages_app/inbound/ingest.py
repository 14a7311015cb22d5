"""Ingestion of inbound mail: the webhook's one service."""

import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Case, Count, F, PositiveIntegerField, When
from django.utils import timezone

from messages_app.attachments import (
    StoredFile,
    attachment_rows,
    inline_urls,
    keep_files,
    store_raw,
)
from messages_app.models import Attachment, Direction, Kind, Message
from messages_app.outbound.notices import Notice, queue_notices
from messages_app.parsing.addresses import InvalidAddressError, content_message_id
from messages_app.parsing.html import rewrite_cid_urls
from messages_app.parsing.mime import ParsedEmail, parse_field_email, parse_raw_email
from messages_app.parsing.subjects import normalize_subject
from messages_app.parsing.text import clean_json
from requests_app.counts import requests_changed
from requests_app.events import EventRecord, record_events
from requests_app.models import ActorType, EventType, Party, Status, SupportRequest
from servicedesk.database import drop_broken_connections
from servicedesk.exceptions import IngestUnavailableError

# ---------------------------------------------------------------------------
# Ingestion of inbound mail (the webhook's one service)
# ---------------------------------------------------------------------------

logger = logging.getLogger(__name__)

# Attempts of a batch (after deadlocks) and of one item (after conflicts).
_MAX_ATTEMPTS = 4
# A batch rolled back by closes racing with it waits longer each time (0.05 s doubling,
# jittered): a burst of closes (an operator closing a page of requests) passes in a few
# seconds, and the batch then lands instead of answering 503.
_MAX_BATCH_ATTEMPTS = 7
_AUTO_REPLY_WINDOW = timedelta(hours=1)


class Outcome(StrEnum):
    CREATED = "created"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    REJECTED = "rejected"


class Route(StrEnum):
    """Which routing rule of API.md placed a message (first match wins); SUBJECT is the token."""

    THREAD = "thread"
    SUBJECT = "subject"
    OPEN_REQUEST = "open_request"
    NEW = "new"


@dataclass
class InboundItem:
    """One item of a webhook batch after shape validation: raw mail, field form, or errors.

    Ingestion drops `raw` once the mail is parsed and stored (`release`): a batch near the
    body cap must not hold every mail's bytes until its end.
    """

    index: int
    external_id: str | None = None
    raw: bytes | None = None
    fields: dict[str, Any] | None = None
    errors: dict[str, list[str]] | None = None

    def release(self) -> None:
        self.raw = None


@dataclass(frozen=True)
class ItemResult:
    """The one outcome of one item, as the webhook reports it."""

    index: int
    external_id: str | None
    outcome: Outcome
    request_id: int | None = None
    message_id: int | None = None
    errors: dict[str, list[str]] | None = None


@dataclass(eq=False)
class _Candidate:
    """An accepted item on its way to storage."""

    item: InboundItem
    email: ParsedEmail
    support_request: SupportRequest | None = None
    message: Message | None = None
    created: bool = False
    route: Route | None = None
    duplicate_of: tuple[int, int] | None = None
    errors: dict[str, list[str]] | None = None
    # The stored bytes of the mail's files (None for an omitted one) and of the raw mail.
    files: list[StoredFile | None] = field(default_factory=list)
    raw: StoredFile | None = None

    @property
    def sender(self) -> str:
        return self.email.from_email

    def reset(self) -> None:
        self.support_request = self.message = self.route = self.duplicate_of = None
        self.created = False


class _RouteChangedError(Exception):
    """The open request chosen for a message was closed before the message landed."""


def route_message(
    *, email: ParsedEmail, open_request: SupportRequest | None, thread_request_ids: set[int]
) -> Route:
    """The first routing rule of API.md that matches, given the sender's open request."""
    if open_request is None:
        return Route.NEW
    if open_request.pk in thread_request_ids:
        return Route.THREAD
    if open_request.pk in email.request_tokens:
        return Route.SUBJECT
    return Route.OPEN_REQUEST


def ingest_batch(*, items: list[InboundItem]) -> list[ItemResult]:
    """Store each item of a webhook batch at most once, in the right request; one result each."""
    now = timezone.now()
    results: dict[int, ItemResult] = {}
    checked = []
    for item in items:
        if item.errors:
            results[item.index] = _rejected(item, item.errors)
        else:
            checked.append(item)

    # A known provider id is a duplicate whatever the content: no need to parse it.
    stored = _stored_by_external_id({i.external_id for i in checked if i.external_id})
    candidates: list[_Candidate] = []
    for item in checked:
        if item.external_id in stored:
            results[item.index] = _duplicate(item, stored[item.external_id])
            item.release()
            continue
        email, errors = _parse(item)
        if errors:
            results[item.index] = _rejected(item, errors)
        elif email.from_email == settings.SUPPORT_EMAIL or email.is_bounce:
            results[item.index] = ItemResult(item.index, item.external_id, Outcome.IGNORED)
        else:
            candidates.append(_keep_bytes(_Candidate(item=item, email=email)))
        item.release()

    by_message_id = _stored_by_message_id(
        {c.email.message_id for c in candidates if not c.item.external_id and c.email.message_id}
    )
    fresh: list[_Candidate] = []
    repeats: list[tuple[_Candidate, _Candidate]] = []
    first_by_key: dict[tuple[str, str], _Candidate] = {}
    for candidate in candidates:
        key = _dedup_key(candidate)
        if key and key[0] == "message_id" and key[1] in by_message_id:
            results[candidate.item.index] = _duplicate(candidate.item, by_message_id[key[1]])
        elif key and key in first_by_key:
            repeats.append((candidate, first_by_key[key]))
        else:
            if key:
                first_by_key[key] = candidate
            # Mail without an id repeats any earlier mail of the batch with its Message-ID.
            if candidate.email.message_id:
                first_by_key.setdefault(("message_id", candidate.email.message_id), candidate)
            fresh.append(candidate)

    _store(fresh, now=now)
    for candidate in fresh:
        results[candidate.item.index] = _result(candidate)
    for candidate, first in repeats:
        original = results[first.item.index]
        if original.request_id is not None and original.message_id is not None:
            ids = (original.request_id, original.message_id)
            results[candidate.item.index] = _duplicate(candidate.item, ids)
        else:
            results[candidate.item.index] = replace(
                original, index=candidate.item.index, external_id=candidate.item.external_id
            )
    return [results[item.index] for item in items]


def _rejected(item: InboundItem, errors: dict[str, list[str]]) -> ItemResult:
    return ItemResult(item.index, item.external_id, Outcome.REJECTED, errors=errors)


def _duplicate(item: InboundItem, ids: tuple[int, int]) -> ItemResult:
    return ItemResult(item.index, item.external_id, Outcome.DUPLICATE, ids[0], ids[1])


def _result(candidate: _Candidate) -> ItemResult:
    item = candidate.item
    if candidate.errors:
        return _rejected(item, candidate.errors)
    if candidate.duplicate_of:
        return _duplicate(item, candidate.duplicate_of)
    outcome = Outcome.CREATED if candidate.created else Outcome.APPENDED
    return ItemResult(
        item.index, item.external_id, outcome, candidate.support_request.pk, candidate.message.pk
    )


def _keep_bytes(candidate: _Candidate) -> _Candidate:
    """Write an accepted mail's files and raw bytes to storage now, so that a batch holds
    one mail's decoded files in memory at a time (rows follow in the transaction)."""
    candidate.files = keep_files(candidate.email.attachments)
    if candidate.item.raw is not None:
        candidate.raw = store_raw(candidate.item.raw)
    return candidate


def _parse(item: InboundItem) -> tuple[ParsedEmail | None, dict[str, list[str]] | None]:
    """The parsed mail of an item, or the field errors that reject it."""
    if item.raw is not None:
        email = parse_raw_email(
            item.raw,
            max_attachment_bytes=settings.ATTACHMENT_MAX_BYTES,
            max_attachments=settings.ATTACHMENT_MAX_COUNT,
        )
        if not email.from_email:
            return None, {"raw": [email.sender_error or "The message has no usable sender."]}
        return email, None
    try:
        email = parse_field_email(**(item.fields or {}))
    except InvalidAddressError as exc:
        return None, {"user_email": [str(exc)]}
    if not item.external_id and not email.message_id:
        # Nothing names this mail: its content does, so a replayed item is a duplicate.
        email.message_id = content_message_id(item.fields or {})
    return email, None


def _dedup_key(candidate: _Candidate) -> tuple[str, str] | None:
    if candidate.item.external_id:
        return ("external_id", candidate.item.external_id)
    if candidate.email.message_id:
        return ("message_id", candidate.email.message_id)
    return None


def _stored_by_external_id(external_ids: set[str]) -> dict[str, tuple[int, int]]:
    if not external_ids:
        return {}
    rows = Message.objects.filter(external_id__in=external_ids).values_list(
        "external_id", "request_id", "pk"
    )
    return {external_id: (request_id, pk) for external_id, request_id, pk in rows}


def _stored_by_message_id(message_ids: set[str]) -> dict[str, tuple[int, int]]:
    """Stored messages by Message-ID, whether or not they came with a provider id."""
    if not message_ids:
        return {}
    rows = (
        Message.objects.filter(rfc_message_id__in=message_ids, direction=Direction.INBOUND)
        .order_by("pk")
        .values_list("rfc_message_id", "request_id", "pk")
    )
    found: dict[str, tuple[int, int]] = {}
    for message_id, request_id, pk in rows:
        found.setdefault(message_id, (request_id, pk))
    return found


def _stored_duplicate(candidate: _Candidate) -> tuple[int, int] | None:
    key = _dedup_key(candidate)
    if key is None:
        return None
    if key[0] == "external_id":
        return _stored_by_external_id({key[1]}).get(key[1])
    return _stored_by_message_id({key[1]}).get(key[1])


def _store(candidates: list[_Candidate], *, now) -> None:
    """Store the batch in one transaction, started again from a fresh read when a
    concurrent close or a deadlock gets in its way."""
    if not candidates:
        return
    # New requests are opened in the order of the senders' addresses and existing ones
    # locked in id order at the end, so that concurrent batches wait for each other.
    # An operator's close can still complete a cycle; PostgreSQL then breaks the
    # deadlock and the batch starts again.
    ordered = sorted(candidates, key=lambda c: c.sender)
    for attempt in range(1, _MAX_BATCH_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                _store_batch(ordered, candidates, now=now)
            return
        except (OperationalError, InterfaceError, _RouteChangedError) as exc:
            logger.info("Ingest batch rolled back (%s), attempt %s", type(exc).__name__, attempt)
            # A connection the server dropped is reopened for the next attempt.
            drop_broken_connections()
            for candidate in candidates:
                candidate.reset()
            if attempt < _MAX_BATCH_ATTEMPTS:
                pause = 0.05 * 2**attempt
                time.sleep(random.uniform(pause / 2, pause))  # noqa: S311 (jitter, not crypto)
    raise IngestUnavailableError()


def _store_batch(ordered: list[_Candidate], in_batch_order: list[_Candidate], *, now) -> None:
    """All at once, or item by item after a concurrent writer stored the same mail."""
    try:
        with transaction.atomic():
            _store_together(ordered, in_batch_order, now=now)
        return
    except (OperationalError, _RouteChangedError):
        raise
    except DatabaseError as exc:
        logger.info("Ingest batch conflicted (%s); storing item by item", type(exc).__name__)
    counts: dict[int, int] = defaultdict(int)
    for candidate in ordered:
        candidate.reset()
        _store_alone(candidate, counts, now=now)
    _count_appended(counts, now=now)


def _count_appended(counts: dict[int, int], *, now) -> None:
    """Lock the requests that received mail in id order and count it; raises if one of
    them was closed after the batch looked (its mail must open a new request)."""
    if counts and (
        _lock_open(set(counts)) != set(counts) or not _append_counters(counts=counts, now=now)
    ):
        raise _RouteChangedError(sorted(counts))


def _open_requests(senders: set[str]) -> dict[str, SupportRequest]:
    """The senders' open requests by address (read without a lock)."""
    rows = (
        SupportRequest.objects.filter(requester_email__in=senders)
        .exclude(status=Status.CLOSED)
        .only("pk", "requester_email", "status")
    )
    return {row.requester_email: row for row in rows}


def _lock_open(request_ids: set[int]) -> set[int]:
    """Lock the requests in id order until commit; answers those still open.

    A request locked here cannot be closed before the batch commits, and rows locked in
    one order by every batch cannot deadlock.
    """
    if not request_ids:
        return set()
    return set(
        SupportRequest.objects.select_for_update(no_key=True)
        .filter(pk__in=request_ids)
        .exclude(status=Status.CLOSED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _thread_request_ids(candidates: list[_Candidate], request_ids: set[int]) -> dict[str, set[int]]:
    """For each referenced Message-ID, the requests among `request_ids` holding it."""
    referenced = {ref for c in candidates for ref in c.email.thread_ids}
    if not referenced or not request_ids:
        return {}
    found: dict[str, set[int]] = defaultdict(set)
    rows = Message.objects.filter(
        request_id__in=request_ids, rfc_message_id__in=referenced
    ).values_list("rfc_message_id", "request_id")
    for message_id, request_id in rows:
        found[message_id].add(request_id)
    return found


def _thread_hits(candidate: _Candidate, by_reference: dict[str, set[int]]) -> set[int]:
    return {pk for ref in candidate.email.thread_ids for pk in by_reference.get(ref, ())}


def _append_counters(*, counts: dict[int, int], now) -> bool:
    """Count new requester messages (request id → how many) in one statement; False if any
    of the requests is no longer open."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for request_id, count in counts.items():
        by_count[count].append(request_id)
    increments = [
        When(pk__in=ids, then=F("message_count") + count) for count, ids in by_count.items()
    ]
    updated = (
        SupportRequest.objects.filter(pk__in=list(counts))
        .exclude(status=Status.CLOSED)
        .update(
            message_count=Case(
                *increments, default=F("message_count"), output_field=PositiveIntegerField()
            ),
            last_message_at=now,
            last_reply_by=Party.REQUESTER,
            updated_at=now,
        )
    )
    return updated == len(counts)


def _new_request(candidate: _Candidate, *, count: int, now) -> SupportRequest:
    email = candidate.email
    return SupportRequest(
        # What the request is about, without "Re: Your request is closed: ... [#1]".
        subject=normalize_subject(email.subject),
        requester_email=email.from_email,
        requester_name=email.from_name,
        status=Status.NEW,
        created_at=now,
        last_message_at=now,
        message_count=count,
        last_reply_by=Party.REQUESTER,
    )


def _new_message(candidate: _Candidate, *, now) -> Message:
    email = candidate.email
    return Message(
        request=candidate.support_request,
        direction=Direction.INBOUND,
        kind=Kind.REQUESTER,
        author_email=email.from_email,
        author_name=email.from_name,
        subject=email.subject,
        body=email.body,
        reply=email.reply,
        html=email.html,
        external_id=candidate.item.external_id,
        rfc_message_id=email.message_id,
        in_reply_to=email.in_reply_to,
        references=" ".join(email.references),
        headers=clean_json(email.headers),
        raw_key=candidate.raw.key if candidate.raw else "",
        raw_size=candidate.raw.size if candidate.raw else None,
        date=email.date or now,
        created_at=now,
    )


def _store_together(ordered: list[_Candidate], in_batch_order: list[_Candidate], *, now) -> None:
    """The fast path: a few statements for the whole batch, whatever its size.

    Existing requests are locked last, just before commit, so that batches for the same
    senders hold each other up as briefly as possible.
    """
    senders: dict[str, list[_Candidate]] = defaultdict(list)
    for candidate in ordered:
        senders[candidate.sender].append(candidate)
    open_requests = _open_requests(set(senders))
    by_reference = _thread_request_ids(
        ordered, {support_request.pk for support_request in open_requests.values()}
    )
    _open_new_requests(senders, open_requests, now=now)
    for sender, group in senders.items():
        support_request = open_requests[sender]
        for candidate in group:
            candidate.support_request = support_request
            if candidate.route is None:
                candidate.route = route_message(
                    email=candidate.email,
                    open_request=support_request,
                    thread_request_ids=_thread_hits(candidate, by_reference),
                )
    messages = Message.objects.bulk_create(
        [_new_message(candidate, now=now) for candidate in in_batch_order]
    )
    for candidate, message in zip(in_batch_order, messages, strict=True):
        candidate.message = message
    _store_attachments(in_batch_order)
    _acknowledge(in_batch_order, now=now)
    _count_appended(
        {
            open_requests[sender].pk: len(group)
            for sender, group in senders.items()
            if not group[0].created
        },
        now=now,
    )


def _open_new_requests(
    senders: dict[str, list[_Candidate]], open_requests: dict[str, SupportRequest], *, now
) -> None:
    """Open a request for each sender that has none, in address order, and mark the first
    candidate of each `created`. A sender whose request a concurrent batch opened meanwhile
    joins `open_requests` instead (the unique index made this batch wait for it)."""
    pending = [sender for sender in senders if sender not in open_requests]
    for _ in range(_MAX_ATTEMPTS):
        if not pending:
            return
        # Request numbers follow the order of the batch's items, as a reader expects.
        in_item_order = sorted(pending, key=lambda sender: senders[sender][0].item.index)
        ids = _reserve_request_ids(len(pending))
        if ids is None:
            # One writer at a time (SQLite): insert in item order, the ids follow.
            pending = in_item_order
        reserved = dict(zip(in_item_order, ids or [], strict=False))
        new_requests = []
        for sender in pending:
            new_request = _new_request(senders[sender][0], count=len(senders[sender]), now=now)
            new_request.pk = reserved.get(sender)
            new_requests.append(new_request)
        try:
            with transaction.atomic():
                rows = SupportRequest.objects.bulk_create(new_requests)
        except IntegrityError:
            opened = _open_requests(set(pending))
            if not opened:
                raise
            open_requests.update(opened)
            pending = [sender for sender in pending if sender not in opened]
            continue
        requests_changed()
        for sender, support_request in zip(pending, rows, strict=True):
            open_requests[sender] = support_request
            first = senders[sender][0]
            first.created, first.route = True, Route.NEW
        return
    raise _RouteChangedError(pending)


def _reserve_request_ids(count: int) -> list[int] | None:
    """On PostgreSQL, `count` new request ids from the table's sequence, ascending, so that
    rows inserted in address order (which keeps concurrent batches from deadlocking) can
    still be numbered in item order. None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    meta = SupportRequest._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _store_alone(candidate: _Candidate, counts: dict[int, int], *, now) -> None:
    """The careful path for one item: re-read, then append or open, retrying on conflicts.

    Mail appended to an existing request is counted in `counts`, for `_count_appended`.
    """
    failure: Exception | None = None
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                duplicate = _stored_duplicate(candidate)
                if duplicate:
                    candidate.duplicate_of = duplicate
                    return
                support_request = _open_requests({candidate.sender}).get(candidate.sender)
                if support_request is None:
                    candidate.support_request = _new_request(candidate, count=1, now=now)
                    candidate.support_request.save(force_insert=True)
                    requests_changed()
                    candidate.created, candidate.route = True, Route.NEW
                else:
                    candidate.support_request = support_request
                    candidate.route = route_message(
                        email=candidate.email,
                        open_request=support_request,
                        thread_request_ids=_thread_hits(
                            candidate, _thread_request_ids([candidate], {support_request.pk})
                        ),
                    )
                candidate.message = _new_message(candidate, now=now)
                candidate.message.save(force_insert=True)
                _store_attachments([candidate])
                _acknowledge([candidate], now=now)
        except OperationalError:
            # A deadlock: only rolling back the whole batch releases what it holds.
            raise
        except DatabaseError as exc:
            # The database's constraints saw a concurrent writer: try again from a fresh read.
            logger.info(
                "Ingest item %s conflicted (%s), attempt %s",
                candidate.item.index,
                type(exc).__name__,
                attempt,
            )
            candidate.reset()
            failure = exc
            continue
        if not candidate.created:
            counts[candidate.support_request.pk] += 1
        return
    # The same conflict every time is no race: this item cannot be stored.
    logger.error("Ingest item %s could not be stored", candidate.item.index, exc_info=failure)
    candidate.errors = {"non_field_errors": ["The message could not be stored."]}


def _store_attachments(stored: list[_Candidate]) -> None:
    """The attachment rows of stored mail (its bytes are in storage already); inline images
    referenced as `cid:` in the HTML then point at their download URL."""
    by_candidate = [
        attachment_rows(
            message=candidate.message, parsed=candidate.email.attachments, stored=candidate.files
        )
        for candidate in stored
    ]
    rows = [row for group in by_candidate for row in group]
    if not rows:
        return
    Attachment.objects.bulk_create(rows)
    rewritten = []
    for candidate, group in zip(stored, by_candidate, strict=True):
        message = candidate.message
        if group and "cid:" in message.html.lower():
            html = rewrite_cid_urls(message.html, inline_urls(group))
            if html != message.html:
                message.html = html
                rewritten.append(message)
    if rewritten:
        Message.objects.bulk_update(rewritten, ["html"])


def _arrivals(stored: list[_Candidate]) -> list[EventRecord]:
    """The history events of stored mail: `created` for a request it opened, else
    `message_received`."""
    return [
        EventRecord(
            candidate.support_request.pk,
            EventType.CREATED if candidate.created else EventType.MESSAGE_RECEIVED,
            actor_type=ActorType.REQUESTER,
            data={"message_id": candidate.message.pk},
        )
        for candidate in stored
    ]


def _acknowledge(stored: list[_Candidate], *, now) -> None:
    """Record the stored mail's history and queue the acknowledgement of the requests it
    opened, all in a few queries, except to automatic mail or flooded inboxes."""
    wanted = [c for c in stored if c.created and not c.email.is_automatic]
    if not wanted:
        record_events(_arrivals(stored))
        return
    limit = settings.AUTO_REPLY_LIMIT_PER_HOUR
    recent = dict(
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            kind=Kind.AUTO,
            created_at__gte=now - _AUTO_REPLY_WINDOW,
            request__requester_email__in={c.sender for c in wanted},
        )
        .values("request__requester_email")
        .annotate(count=Count("pk"))
        .values_list("request__requester_email", "count")
    )
    # Like every notice, the acknowledgement threads under the requester's latest mail with
    # a Message-ID; a new request holds only mail of this batch, stored in batch order.
    latest = {c.support_request.pk: c.message for c in stored if c.message.rfc_message_id}
    threads = []
    for candidate in wanted:
        if recent.get(candidate.sender, 0) >= limit:
            logger.info("Acknowledgement withheld: automatic mail limit reached for a requester")
            continue
        support_request = candidate.support_request
        threads.append((support_request, latest.get(support_request.pk, candidate.message)))
    queue_notices(threads=threads, notice=Notice.ACKNOWLEDGEMENT, events=_arrivals(stored))
