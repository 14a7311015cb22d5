"""Automatic notices to the requester: acknowledgement, taken, closed.

Each notice is rendered from editable templates under
`messages_app/templates/messages_app/notices/` and queued through the outbox. A batch of
notices renders its templates once per shape of the requests' values and fills in each
request's (`messages_app.outbound.drafts`): the same text, a fraction of the cost.
"""

from collections.abc import Sequence
from typing import cast

from django.conf import settings
from django.db import models
from django.template import TemplateDoesNotExist
from django.template.backends.django import Template
from django.template.loader import get_template, render_to_string
from django.utils import translation

from messages_app.models import Kind, Message
from messages_app.outbound.drafts import fill, placeholder, uses_plainly
from messages_app.outbound.outbox import (
    OutboundMail,
    queue_outbound_message,
    queue_outbound_messages,
    thread_headers_after,
)
from messages_app.parsing.subjects import normalize_subject
from messages_app.parsing.text import clean_header_value, without_request_tokens
from requests_app.events import EventRecord, record_events
from requests_app.models import EventType, SupportRequest


class Notice(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
    TAKEN = "taken", "Taken into work"
    CLOSED = "closed", "Closed"


def with_token(subject: str, support_request: SupportRequest) -> str:
    """The subject with this request's token `[#<id>]` exactly once, at the end, and no
    other request's token (an old one would route the answer to the wrong request)."""
    token = support_request.token
    subject = without_request_tokens(subject)
    return f"{subject} {token}".strip() if subject else token


def notice_context(support_request: SupportRequest) -> dict[str, object]:
    """What a notice template may use: the request, its token and the names in it."""
    operator = support_request.operator
    return {
        "support_request": support_request,
        "token": support_request.token,
        "subject": normalize_subject(support_request.subject),
        "requester_name": clean_header_value(support_request.requester_name),
        "operator_name": operator.mail_name if operator else "",
        "support_name": settings.SUPPORT_NAME,
        "language_code": translation.get_language(),
    }


def render_notice(*, support_request: SupportRequest, notice: str) -> tuple[str, str, str]:
    """Subject, plain text and (optional) HTML of a notice, in the service's language."""
    base = f"messages_app/notices/{notice}"
    # Notices go out in LANGUAGE_CODE whatever language the web request that caused
    # them was served in.
    with translation.override(settings.LANGUAGE_CODE):
        context = notice_context(support_request)
        subject = clean_header_value(render_to_string(f"{base}_subject.txt", context))
        body = render_to_string(f"{base}_body.txt", context).strip() + "\n"
        try:
            html: str = render_to_string(f"{base}_body.html", context)
        except TemplateDoesNotExist:
            html = ""
    return with_token(subject, support_request), body, html


# The values of `notice_context` that differ from request to request; the others are the
# same for every notice of a batch.
_PER_REQUEST = ("token", "subject", "requester_name", "operator_name")
_SHARED = ("support_name", "language_code")


def render_notices(
    *, support_requests: Sequence[SupportRequest], notice: str
) -> list[tuple[str, str, str]]:
    """`render_notice` of each request, with the templates rendered once per combination
    of empty and non-empty values (when they use the values plainly) rather than once per
    request."""
    base = f"messages_app/notices/{notice}"
    with translation.override(settings.LANGUAGE_CODE):
        templates = _templates(base)
        if not all(
            template is None or uses_plainly(template.template, _PER_REQUEST, _SHARED)
            for template in templates
        ):
            return [
                render_notice(support_request=support_request, notice=notice)
                for support_request in support_requests
            ]
        drafts: dict[tuple[bool, ...], list[str]] = {}
        rendered = []
        for support_request in support_requests:
            context = notice_context(support_request)
            values = {name: str(context[name]) for name in _PER_REQUEST}
            shape = tuple(bool(value) for value in values.values())
            if shape not in drafts:
                draft_context = {name: context[name] for name in _SHARED}
                for name, value in values.items():
                    draft_context[name] = placeholder(name) if value else value
                drafts[shape] = [
                    template.render(draft_context) if template else "" for template in templates
                ]
            subject, body, html = (fill(draft, values) for draft in drafts[shape])
            rendered.append(
                (
                    with_token(clean_header_value(subject), support_request),
                    body.strip() + "\n",
                    html,
                )
            )
    return rendered


def _templates(base: str) -> tuple[Template, Template, Template | None]:
    """The subject, text and (optional) HTML templates of a notice."""
    try:
        html = cast(Template, get_template(f"{base}_body.html"))
    except TemplateDoesNotExist:
        html = None
    subject = cast(Template, get_template(f"{base}_subject.txt"))
    return subject, cast(Template, get_template(f"{base}_body.txt")), html


def queue_notice(*, support_request: SupportRequest, notice: str) -> Message:
    """Queue an automatic notice to the request's requester in the caller's transaction."""
    subject, body, html = render_notice(support_request=support_request, notice=notice)
    message = queue_outbound_message(
        support_request=support_request, kind=Kind.AUTO, subject=subject, body=body, html=html
    )
    record_events(_notice_events([message], notice))
    return message


def _notice_events(messages: list[Message], notice: str) -> list[EventRecord]:
    return [
        EventRecord(
            message.request_id,
            EventType.NOTICE_SENT,
            data={"notice": str(notice), "message_id": message.pk},
        )
        for message in messages
    ]


def queue_notices(
    *,
    threads: list[tuple[SupportRequest, Message]],
    notice: str,
    events: Sequence[EventRecord] = (),
) -> list[Message]:
    """Queue a notice to each request's requester, threaded under the given mail of theirs,
    in the caller's transaction and in a constant number of queries for all of them; their
    `notice_sent` events go in one insert with the caller's other `events`."""
    rendered = render_notices(
        support_requests=[support_request for support_request, _ in threads], notice=notice
    )
    mails = []
    for (support_request, reply_to), (subject, body, html) in zip(threads, rendered, strict=True):
        in_reply_to, references = thread_headers_after(reply_to)
        mails.append(OutboundMail(support_request, subject, body, html, in_reply_to, references))
    messages = queue_outbound_messages(mails=mails, kind=Kind.AUTO)
    record_events([*events, *_notice_events(messages, notice)])
    return messages
