"""Canned replies: placeholders filled from a fixed set of values, never a template engine."""

import re

from django.db import transaction

from messages_app.errors import NotAuthorError
from messages_app.models import CannedReply
from operators_app.models import Operator
from requests_app.models import SupportRequest

PLACEHOLDERS = ("requester_name", "requester_email", "operator_name", "request_id", "subject")

# `{name}` where name is one of PLACEHOLDERS; anything else in braces (`{x.y}`, `{0}`,
# `{{`, `{name!r}`, a lone brace) is not a placeholder and stays as written.
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def placeholder_values(*, support_request: SupportRequest, operator: Operator) -> dict[str, str]:
    """What a canned reply's placeholders stand for, for this request and operator."""
    return {
        "requester_name": support_request.requester_name or support_request.requester_email,
        "requester_email": support_request.requester_email,
        "operator_name": operator.name,
        "request_id": str(support_request.pk),
        "subject": support_request.subject,
    }


def render_canned_reply(
    *, canned_reply: CannedReply, support_request: SupportRequest, operator: Operator
) -> str:
    """The canned reply's body with its placeholders filled in; other braces stay as they are."""
    values = placeholder_values(support_request=support_request, operator=operator)
    # str.format_map on each placeholder alone: user text never reaches a format string, so
    # no attribute or index access (`{subject.__class__}`) and no format spec is possible.
    return _PLACEHOLDER.sub(
        lambda match: ("{" + match[1] + "}").format_map(values), canned_reply.body
    )


def _check_may_change(*, canned_reply: CannedReply, operator: Operator) -> None:
    if canned_reply.created_by_id != operator.pk and not operator.user.is_staff:
        raise NotAuthorError()


def create_canned_reply(*, operator: Operator, title: str, body: str) -> CannedReply:
    """A new canned reply written by `operator`."""
    return CannedReply.objects.create(title=title, body=body, created_by=operator)


def update_canned_reply(
    *, canned_reply_id: int, operator: Operator, title: str | None = None, body: str | None = None
) -> CannedReply:
    """Change a canned reply's title or body; its author or staff only."""
    with transaction.atomic():
        canned_reply = CannedReply.objects.select_for_update().get(pk=canned_reply_id)
        _check_may_change(canned_reply=canned_reply, operator=operator)
        changed = ["updated_at"]
        if title is not None:
            canned_reply.title = title
            changed.append("title")
        if body is not None:
            canned_reply.body = body
            changed.append("body")
        canned_reply.save(update_fields=changed)
    return canned_reply


def delete_canned_reply(*, canned_reply_id: int, operator: Operator) -> None:
    """Delete a canned reply; its author or staff only."""
    with transaction.atomic():
        canned_reply = CannedReply.objects.select_for_update().get(pk=canned_reply_id)
        _check_may_change(canned_reply=canned_reply, operator=operator)
        canned_reply.delete()
