"""Automatic notices to the requester: acknowledgement, taken, closed.

Each notice is rendered from editable templates under
`messages_app/templates/messages_app/notices/` and queued through the outbox.
"""

from django.conf import settings
from django.db import models
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from messages_app.models import Kind, Message
from messages_app.outbound.delivery import clean_header_value
from messages_app.outbound.outbox import (
    OutboundMail,
    queue_outbound_message,
    queue_outbound_messages,
    thread_headers_after,
)
from messages_app.parsing.subjects import normalize_subject
from messages_app.parsing.text import REQUEST_TOKEN
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
    subject = clean_header_value(REQUEST_TOKEN.sub(" ", subject))
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
            html = render_to_string(f"{base}_body.html", context)
        except TemplateDoesNotExist:
            html = ""
    return with_token(subject, support_request), body, html


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
    events: list[EventRecord] = (),
) -> list[Message]:
    """Queue a notice to each request's requester, threaded under the given mail of theirs,
    in the caller's transaction and in a constant number of queries for all of them; their
    `notice_sent` events go in one insert with the caller's other `events`."""
    mails = []
    for support_request, reply_to in threads:
        subject, body, html = render_notice(support_request=support_request, notice=notice)
        in_reply_to, references = thread_headers_after(reply_to)
        mails.append(OutboundMail(support_request, subject, body, html, in_reply_to, references))
    messages = queue_outbound_messages(mails=mails, kind=Kind.AUTO)
    record_events([*events, *_notice_events(messages, notice)])
    return messages
