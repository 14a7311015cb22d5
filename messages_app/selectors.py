"""Reads of messages the API needs."""

from django.db.models import QuerySet

from .models import CannedReply, Message


def list_request_messages(*, request_id: int) -> QuerySet[Message]:
    """A request's messages, oldest first, with the replying operator joined."""
    return (
        Message.objects.filter(request_id=request_id)
        .select_related("operator")
        .defer("html", "headers", "attachments", "references", "last_error")
        .order_by("created_at", "id")
    )


def get_message(*, message_id: int) -> Message | None:
    """One message with its operator, or None."""
    return Message.objects.select_related("operator").filter(pk=message_id).first()


def list_canned_replies() -> QuerySet[CannedReply]:
    """Every canned reply with its author, by title."""
    return CannedReply.objects.select_related("created_by").order_by("title", "id")


def get_canned_reply(*, canned_reply_id: int) -> CannedReply | None:
    """One canned reply with its author, or None."""
    return list_canned_replies().filter(pk=canned_reply_id).first()
