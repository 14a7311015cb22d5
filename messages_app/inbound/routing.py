"""Routing of inbound mail: which rule of API.md places a mail in its request.

Pure: no queries. A sender has at most one open request and all their mail goes there;
the route says why, so that "why did this mail land here" has an answer on the message
(`Message.route`), in the admin and in the "mail received" event. The first rule that
matches wins:

1. `thread`: the mail's In-Reply-To or References name a mail of that request;
2. `subject`: its subject carries the request's `[#id]` token;
3. `open_request`: it is simply the sender's open request;
4. `new`: the sender has no open request, the mail opens one.

A token or a thread header naming another requester's request, or a closed one, never
routes there: only the sender's own open request is a candidate.
"""

from collections.abc import Collection, Iterable, Mapping

from messages_app.models import Route

__all__ = ["Route", "ThreadIndex", "requests_in_thread", "route_message"]

# Message-ID -> the ids of the candidate requests holding a mail with that Message-ID.
ThreadIndex = Mapping[str, Collection[int]]


def route_message(
    *,
    open_request_id: int | None,
    thread_request_ids: Collection[int],
    request_tokens: Collection[int],
) -> Route:
    """The first routing rule that matches, given the id of the sender's open request (None
    when they have none), the requests the mail's thread headers name, and the request ids
    named by tokens in its subject."""
    if open_request_id is None:
        return Route.NEW
    if open_request_id in thread_request_ids:
        return Route.THREAD
    if open_request_id in request_tokens:
        return Route.SUBJECT
    return Route.OPEN_REQUEST


def requests_in_thread(*, thread_ids: Iterable[str], index: ThreadIndex) -> set[int]:
    """The requests holding any of the mails a mail answers (`thread_ids`: In-Reply-To and
    References)."""
    return {request_id for ref in thread_ids for request_id in index.get(ref, ())}
