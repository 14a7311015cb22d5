"""Storing screened mail: the requests it opens, its messages (with their route) and its
attachment rows, in the caller's transaction. Request rows are written by the lifecycle
services (`requests_app.services`); this module only asks for them."""

from collections import defaultdict
from datetime import datetime

from messages_app.attachments import attachment_rows, inline_urls
from messages_app.inbound.batch import Candidate, stored_duplicate
from messages_app.inbound.routing import ThreadIndex, requests_in_thread, route_message
from messages_app.models import Attachment, Direction, Kind, Message
from messages_app.parsing.html import rewrite_cid_urls
from messages_app.parsing.subjects import normalize_subject
from messages_app.parsing.text import clean_json
from requests_app import services
from requests_app.services import MailOpening


def store_together(
    ordered: list[Candidate], in_batch_order: list[Candidate], *, now: datetime
) -> None:
    """The fast path: a few statements for the whole batch, whatever its size.

    `ordered` is the batch sorted by sender. Raises RequestOpenedMeanwhileError when a
    concurrent writer opened a request for one of the senders, and the database's error
    when it refuses the batch otherwise (the same mail stored meanwhile, a mail it cannot
    hold).
    """
    senders: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in ordered:
        senders[candidate.sender].append(candidate)
    open_requests = services.find_open_requests(requester_emails=set(senders))
    index = thread_index(ordered, {request.pk for request in open_requests.values()})
    # Request numbers follow the order of the batch's items, as a reader expects.
    new_senders = sorted(
        (sender for sender in senders if sender not in open_requests),
        key=lambda sender: senders[sender][0].item.index,
    )
    opened = services.open_requests_for_mail(
        openings=[
            _opening(senders[sender][0], count=len(senders[sender])) for sender in new_senders
        ],
        now=now,
    )
    for sender, group in senders.items():
        if sender in opened:
            # The new request counts all of the sender's mail of the batch from the start.
            _route(group[0], open_request=None, index=index)
            group[0].created = True
            for candidate in group:
                candidate.counted = True
        support_request = open_requests.get(sender) or opened[sender]
        for candidate in group:
            candidate.support_request = support_request
            if candidate.route is None:
                _route(candidate, open_request=support_request.pk, index=index)
            _index_own_id(candidate, index)
    messages = Message.objects.bulk_create([new_message(c, now=now) for c in in_batch_order])
    for candidate, message in zip(in_batch_order, messages, strict=True):
        candidate.message = message
    store_attachments(in_batch_order)


def store_alone(candidate: Candidate, *, now: datetime) -> None:
    """The careful path for one item, from a fresh read: a duplicate of mail stored since
    the batch was screened, else appended to the sender's open request or opening one."""
    duplicate = stored_duplicate(candidate)
    if duplicate:
        candidate.duplicate_of = duplicate
        return
    support_request = services.find_open_requests(requester_emails={candidate.sender}).get(
        candidate.sender
    )
    if support_request is None:
        _route(candidate, open_request=None, index={})
        opened = services.open_requests_for_mail(openings=[_opening(candidate, count=1)], now=now)
        support_request = opened[candidate.sender]
        candidate.created = candidate.counted = True
    else:
        # Mail of this batch stored before it is in its request already: the query sees it.
        index = thread_index([candidate], {support_request.pk})
        _route(candidate, open_request=support_request.pk, index=index)
    candidate.support_request = support_request
    candidate.message = new_message(candidate, now=now)
    candidate.message.save(force_insert=True)
    store_attachments([candidate])


def thread_index(candidates: list[Candidate], request_ids: set[int]) -> dict[str, set[int]]:
    """For each Message-ID the candidates answer, the requests among `request_ids` holding
    it: one query, whose answer tells a `thread` route from the others."""
    referenced = {ref for candidate in candidates for ref in candidate.email.thread_ids}
    if not referenced or not request_ids:
        return {}
    found: dict[str, set[int]] = defaultdict(set)
    rows = Message.objects.filter(
        request_id__in=request_ids, rfc_message_id__in=referenced
    ).values_list("rfc_message_id", "request_id")
    for message_id, request_id in rows:
        found[message_id].add(request_id)
    return found


def _route(candidate: Candidate, *, open_request: int | None, index: ThreadIndex) -> None:
    email = candidate.email
    candidate.route = route_message(
        open_request_id=open_request,
        thread_request_ids=requests_in_thread(thread_ids=email.thread_ids, index=index),
        request_tokens=email.request_tokens,
    )


def _index_own_id(candidate: Candidate, index: dict[str, set[int]]) -> None:
    """A later mail of the batch answering this one follows it by thread, as it would
    had it come in a later batch."""
    if candidate.email.message_id and candidate.support_request is not None:
        index.setdefault(candidate.email.message_id, set()).add(candidate.support_request.pk)


def _opening(candidate: Candidate, *, count: int) -> MailOpening:
    email = candidate.email
    return MailOpening(
        requester_email=email.from_email,
        requester_name=email.from_name,
        # What the request is about, without "Re: Your request is closed: ... [#1]".
        subject=normalize_subject(email.subject),
        message_count=count,
    )


def new_message(candidate: Candidate, *, now: datetime) -> Message:
    """The message row of a routed candidate."""
    email = candidate.email
    return Message(
        request=candidate.support_request,
        direction=Direction.INBOUND,
        kind=Kind.REQUESTER,
        route=candidate.route or "",
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


def store_attachments(stored: list[Candidate]) -> None:
    """The attachment rows of stored mail (its bytes are in storage already); inline images
    referenced as `cid:` in the HTML then point at their download URL."""
    messages = [(c.message, c) for c in stored if c.message is not None]
    by_message = [
        (message, attachment_rows(message=message, parsed=c.email.attachments, stored=c.files))
        for message, c in messages
    ]
    rows = [row for _, group in by_message for row in group]
    if not rows:
        return
    Attachment.objects.bulk_create(rows)
    rewritten = []
    for message, group in by_message:
        if group and "cid:" in message.html.lower():
            html = rewrite_cid_urls(message.html, inline_urls(group))
            if html != message.html:
                message.html = html
                rewritten.append(message)
    if rewritten:
        Message.objects.bulk_update(rewritten, ["html"])
