"""Reads of messages the API needs."""

from django.db.models import Prefetch, QuerySet

from messages_app.models import Attachment, CannedReply, Message


def list_request_messages(*, request_id: int) -> QuerySet[Message]:
    """A request's messages, oldest first, with the replying operator joined."""
    return (
        Message.objects.filter(request_id=request_id)
        .select_related("operator")
        .defer("html", "headers", "references", "last_error")
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("position", "id"))
        )
        .order_by("created_at", "id")
    )


def get_message(*, message_id: int) -> Message | None:
    """One message with its operator, or None."""
    return Message.objects.select_related("operator").filter(pk=message_id).first()


def get_attachment(*, attachment_id: int) -> Attachment | None:
    """One attachment, or None."""
    return Attachment.objects.filter(pk=attachment_id).first()


def get_raw_message(*, message_id: int) -> Message | None:
    """A message whose raw mail is kept, with only what serving it needs; None otherwise."""
    return (
        Message.objects.filter(pk=message_id)
        .exclude(raw_key="")
        .only("pk", "raw_key", "raw_size")
        .first()
    )


def list_canned_replies() -> QuerySet[CannedReply]:
    """Every canned reply with its author, by title."""
    return CannedReply.objects.select_related("created_by").order_by("title", "id")


def get_canned_reply(*, canned_reply_id: int) -> CannedReply | None:
    """One canned reply with its author, or None."""
    return list_canned_replies().filter(pk=canned_reply_id).first()
