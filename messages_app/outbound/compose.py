"""Operators' mail to requesters: a reply to an open request, or the first mail of a request
an operator opens; signed, with its files, queued through the outbox."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from messages_app.attachments import StoredFile, delete_unused_files, outbound_rows, store_upload
from messages_app.errors import RequestClosedError
from messages_app.models import Attachment, Kind, Message
from messages_app.outbound.notices import with_token
from messages_app.outbound.outbox import queue_outbound_message
from messages_app.parsing.subjects import reply_subject
from operators_app.models import Operator
from requests_app.models import SupportRequest


def post_reply(
    *,
    request_id: int,
    operator: Operator,
    body: str,
    subject: str | None = None,
    attachments: Sequence[UploadedFile[bytes]] = (),
) -> Message:
    """Store an operator's reply to an open request, with its files, and queue it to the
    requester. The caller checked the files' limits (`check_outbound_files`)."""
    with transaction.atomic():
        support_request = SupportRequest.objects.select_for_update().get(pk=request_id)
        if not support_request.is_open:
            raise RequestClosedError()
        return queue_operator_mail(
            support_request=support_request,
            operator=operator,
            subject=subject or reply_subject(support_request.subject),
            body=body,
            attachments=attachments,
        )


def queue_operator_mail(
    *,
    support_request: SupportRequest,
    operator: Operator,
    subject: str,
    body: str,
    attachments: Sequence[UploadedFile[bytes]] = (),
) -> Message:
    """Store an operator's mail to the requester, signed, with its files, and queue it; the
    caller holds the transaction and has checked the files' limits."""
    stored: list[StoredFile] = []
    try:
        with transaction.atomic():
            stored = [store_upload(upload) for upload in attachments]
            message = queue_outbound_message(
                support_request=support_request,
                kind=Kind.OPERATOR,
                subject=with_token(subject, support_request),
                body=signed(body, operator=operator),
                reply=body,
                operator=operator,
            )
            Attachment.objects.bulk_create(
                outbound_rows(message=message, files=list(attachments), stored=stored)
            )
            return message
    except BaseException:
        # Nothing of a refused mail stays behind, its files included.
        delete_unused_files(kept.key for kept in stored)
        raise


def signed(body: str, *, operator: Operator) -> str:
    """The reply's text with the signature of REPLY_SIGNATURE under it ("-- " above it, so
    mail clients and the service's own parser know where it starts)."""
    template = settings.REPLY_SIGNATURE
    if not template.strip():
        return body
    values = {"operator_name": operator.mail_name, "support_name": settings.SUPPORT_NAME}
    # Only the known placeholders are filled in; other braces stay as they are.
    text = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], m[0]), template)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        return body
    return body + ("" if body.endswith("\n") else "\n") + "\n-- \n" + "\n".join(lines) + "\n"
