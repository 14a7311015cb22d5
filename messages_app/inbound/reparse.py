"""Re-parsing stored raw mail after a parser upgrade (`manage.py reparse_mail`).

Only what the parser derives from the bytes changes: body, reply, sanitised HTML and the
attachments. Routing, ids, outcomes, times and delivery state stay as they are. A row
whose result is unchanged is not written, so running it twice changes nothing the
second time; attachment rows keep their ids where their position is unchanged.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from messages_app.attachments import (
    attachment_rows,
    delete_unused_files,
    inline_urls,
    keep_files,
    read_raw,
)
from messages_app.models import Attachment, Message
from messages_app.parsing.html import rewrite_cid_urls
from messages_app.parsing.mime import parse_raw_email

_COMPARED = (
    "filename",
    "content_type",
    "served_content_type",
    "size",
    "sha256",
    "inline",
    "content_id",
    "omitted",
    "storage_key",
)


def reparse_candidates(
    *, since: datetime | None = None, request_ids: list[int] | None = None
) -> QuerySet[Message]:
    """Ids of messages whose raw mail is kept, oldest first."""
    messages = Message.objects.exclude(raw_key="")
    if since is not None:
        messages = messages.filter(created_at__gte=since)
    if request_ids:
        messages = messages.filter(request_id__in=request_ids)
    return messages.order_by("id")


def reparse_message(*, message_id: int) -> bool:
    """Parse a message's stored raw mail again and update what the parser derives from it;
    answers whether anything changed."""
    message = Message.objects.only("pk", "raw_key", "created_at").get(pk=message_id)
    email = parse_raw_email(
        read_raw(message.raw_key),
        max_attachment_bytes=settings.ATTACHMENT_MAX_BYTES,
        max_attachments=settings.ATTACHMENT_MAX_COUNT,
    )
    if not email.from_email:
        # The parser cannot read it any more: keep what was read before.
        return False
    stored = keep_files(email.attachments)
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        old_rows = list(message.attachments.order_by("position", "id"))
        new_rows = attachment_rows(message=message, parsed=email.attachments, stored=stored)
        changed_rows = _sync_attachments(old_rows, new_rows)
        kept = [row for row in [*old_rows[: len(new_rows)], *new_rows[len(old_rows) :]] if row.pk]
        html = rewrite_cid_urls(email.html, inline_urls(kept))
        fields = {"body": email.body, "reply": email.reply, "html": html}
        changed = [name for name, value in fields.items() if getattr(message, name) != value]
        for name in changed:
            setattr(message, name, fields[name])
        if changed:
            message.save(update_fields=changed)
        old_keys = {row.storage_key for row in old_rows if row.storage_key}
        new_keys = {kept_file.key for kept_file in stored if kept_file}
        transaction.on_commit(partial(delete_unused_files, old_keys - new_keys), robust=True)
    return bool(changed or changed_rows)


def _sync_attachments(old_rows: list[Attachment], new_rows: list[Attachment]) -> bool:
    """Make the stored rows equal the new ones position by position; answers whether any
    row changed. Rows at unchanged positions keep their ids."""
    changed = False
    updates = []
    for old, new in zip(old_rows, new_rows, strict=False):
        differs = [name for name in _COMPARED if getattr(old, name) != getattr(new, name)]
        if old.position != new.position:
            differs.append("position")
        if differs:
            for name in differs:
                setattr(old, name, getattr(new, name))
            updates.append(old)
    if updates:
        Attachment.objects.bulk_update(updates, [*_COMPARED, "position"])
        changed = True
    if len(new_rows) > len(old_rows):
        Attachment.objects.bulk_create(new_rows[len(old_rows) :])
        changed = True
    surplus = [row.pk for row in old_rows[len(new_rows) :]]
    if surplus:
        Attachment.objects.filter(pk__in=surplus).delete()
        changed = True
    return changed
