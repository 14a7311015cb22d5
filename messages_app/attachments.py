"""The bytes of attachments and raw mail in `STORAGES["attachments"]`, and their life cycle.

Files are content-addressed: the key is the SHA-256 of the bytes, so a file that many
mails carry (a logo in every signature) is stored once and several rows may name one
key. A key is deleted only when no row names it any more: the delete services collect
the keys of what they delete and, after commit, remove those nothing else still uses.
Files written for mail whose transaction then rolled back (or a crash between the two)
are found by `manage.py sweep_attachments`.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.urls import reverse
from rest_framework import serializers, status

from messages_app.models import Attachment, Message
from messages_app.parsing.mime import ParsedAttachment
from messages_app.parsing.text import clean_filename
from requests_app.counts import requests_changed
from requests_app.models import SupportRequest
from servicedesk.exceptions import DomainError

logger = logging.getLogger(__name__)

ATTACHMENTS_PREFIX = "attachments"
RAW_PREFIX = "raw"
CHUNK = 64 * 1024

# Declared types served as they are: none of them is run or rendered as a document by a
# browser. Everything else (HTML, XHTML, SVG, XML, JavaScript, unknown types) is served
# as application/octet-stream.
SAFE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "image/heic",
        "image/avif",
        "application/pdf",
        "text/plain",
        "text/csv",
        "text/calendar",
        "message/rfc822",
        "application/zip",
        "application/gzip",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/x-tar",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.ms-outlook",
        "application/rtf",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "video/mp4",
        "video/quicktime",
        "video/webm",
    }
)
SAFE_TYPE_PREFIXES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)
# Types `?disposition=inline` may show in the browser.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
OCTET_STREAM = "application/octet-stream"


def served_content_type(declared: str) -> str:
    """The Content-Type a file is served with: its declared type only when that is safe."""
    declared = (declared or "").split(";")[0].strip().lower()
    if declared in SAFE_TYPES or declared.startswith(SAFE_TYPE_PREFIXES):
        return declared
    return OCTET_STREAM


def attachment_storage() -> Storage:
    return storages["attachments"]


class AttachmentsTooLargeError(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "attachments_too_large"
    default_detail = "The attached files are larger than the server accepts."


def check_outbound_files(files: list) -> None:
    """Refuse more files than OUTBOUND_ATTACHMENT_MAX_COUNT (400) or more bytes, in one file
    or all together, than OUTBOUND_ATTACHMENT_MAX_BYTES (413), before anything is stored."""
    count_cap = settings.OUTBOUND_ATTACHMENT_MAX_COUNT
    if len(files) > count_cap:
        raise serializers.ValidationError(
            {"attachments": [f"Attach at most {count_cap} files; this reply has {len(files)}."]}
        )
    byte_cap = settings.OUTBOUND_ATTACHMENT_MAX_BYTES
    if sum(upload.size or 0 for upload in files) > byte_cap:
        raise AttachmentsTooLargeError(
            f"The attached files are larger than {byte_cap} bytes, one by one or together."
        )


# What a multipart reply may carry besides its files: the text fields and the framing.
UPLOAD_ALLOWANCE = 1024 * 1024


def refuse_oversized_upload(request) -> None:
    """413 before reading a multipart body whose declared length alone is past the files'
    limit: Django would otherwise write all of it to disk first."""
    content_type = request.META.get("CONTENT_TYPE", "")
    declared = request.META.get("CONTENT_LENGTH") or ""
    if (
        content_type.lower().startswith("multipart/")
        and declared.isdigit()
        and int(declared) > settings.OUTBOUND_ATTACHMENT_MAX_BYTES + UPLOAD_ALLOWANCE
    ):
        raise AttachmentsTooLargeError(
            f"The attached files are larger than {settings.OUTBOUND_ATTACHMENT_MAX_BYTES} "
            "bytes, one by one or together."
        )


def uploaded_files(request, *, fields: tuple[str, ...]) -> list:
    """The files of a multipart operator mail, within the limits. A text field given twice,
    files under another name than `attachments` and text (a part without a filename) under
    `attachments` are refused (400): nothing the person sent is silently dropped."""
    if not request.FILES and not hasattr(request.data, "getlist"):
        return []
    repeated = [name for name in fields if len(request.data.getlist(name)) > 1]
    if repeated:
        raise serializers.ValidationError({name: ["Give this field once."] for name in repeated})
    others = sorted(name for name in request.FILES if name != "attachments")
    if others:
        raise serializers.ValidationError(
            {name: ["Send files under the name `attachments`."] for name in others}
        )
    if request.POST.getlist("attachments"):
        raise serializers.ValidationError(
            {"attachments": ["Send each file as a file part (with a filename), not as text."]}
        )
    files = request.FILES.getlist("attachments")
    check_outbound_files(files)
    return files


# Writing
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredFile:
    key: str
    sha256: str
    size: int


def _save(key: str, content: File) -> str:
    """Save unless the key already holds these bytes; answers the key actually used."""
    storage = attachment_storage()
    if storage.exists(key):
        return key
    # A concurrent writer of the same bytes may win the race; the folder storage then
    # picks another name, which the row records (the sweep removes whichever is unused).
    return storage.save(key, content)


def _content_key(sha256: str, prefix: str = ATTACHMENTS_PREFIX, suffix: str = "") -> str:
    return f"{prefix}/{sha256[:2]}/{sha256}{suffix}"


def store_bytes(data: bytes) -> StoredFile:
    """Store the bytes of a file under their SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    key = _save(_content_key(sha256), ContentFile(data))
    return StoredFile(key=key, sha256=sha256, size=len(data))


def store_upload(upload: File) -> StoredFile:
    """Store an uploaded file (in memory or on disk) under its SHA-256, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    for chunk in upload.chunks(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    sha256 = digest.hexdigest()
    key = _save(_content_key(sha256), File(upload.file if hasattr(upload, "file") else upload))
    return StoredFile(key=key, sha256=sha256, size=size)


def store_raw(data: bytes) -> StoredFile:
    """Store the original bytes of a mail gzip-compressed, keyed by their SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    key = _content_key(sha256, RAW_PREFIX, ".eml.gz")
    storage = attachment_storage()
    if not storage.exists(key):
        with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spool:
            # Level 1: raw mail is mostly base64 of already compressed files; a higher
            # level costs seconds on a large mail and saves little.
            with gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=1, mtime=0) as packed:
                view = memoryview(data)
                for start in range(0, len(view), 1024 * 1024):
                    packed.write(view[start : start + 1024 * 1024])
            spool.seek(0)
            key = storage.save(key, File(spool))
    return StoredFile(key=key, sha256=sha256, size=len(data))


def keep_files(attachments: list[ParsedAttachment]) -> list[StoredFile | None]:
    """Store the bytes of parsed attachments one by one, releasing each once written."""
    stored: list[StoredFile | None] = []
    for attachment in attachments:
        if attachment.omitted or attachment.data is None:
            stored.append(None)
            continue
        stored.append(store_bytes(attachment.data))
        attachment.data = None
    return stored


def outbound_rows(*, message: Message, files: list, stored: list[StoredFile]) -> list[Attachment]:
    """Unsaved Attachment rows of the files an operator attached to a reply."""
    return [
        Attachment(
            message=message,
            position=position,
            filename=clean_filename(upload.name or "", default=f"attachment-{position + 1}"),
            content_type=(upload.content_type or OCTET_STREAM).split(";")[0].strip().lower()[:255],
            served_content_type=served_content_type(upload.content_type or ""),
            size=kept.size,
            sha256=kept.sha256,
            storage_key=kept.key,
            created_at=message.created_at,
        )
        for position, (upload, kept) in enumerate(zip(files, stored, strict=True))
    ]


def attachment_rows(
    *, message: Message, parsed: list[ParsedAttachment], stored: list[StoredFile | None]
) -> list[Attachment]:
    """Unsaved Attachment rows of a message, in document order."""
    rows = []
    for position, (attachment, kept) in enumerate(zip(parsed, stored, strict=True)):
        rows.append(
            Attachment(
                message=message,
                position=position,
                filename=attachment.filename[:255],
                content_type=attachment.content_type[:255],
                served_content_type=served_content_type(attachment.content_type),
                size=kept.size if kept else attachment.size,
                sha256=kept.sha256 if kept else "",
                inline=attachment.inline,
                content_id=attachment.content_id[:255],
                omitted=None if kept else (attachment.omitted or "not_forwarded"),
                storage_key=kept.key if kept else "",
                created_at=message.created_at,
            )
        )
    return rows


def attachment_path(attachment_id: int, *, inline: bool = False) -> str:
    """The download URL of an attachment, without the host."""
    path = reverse("attachment-download", kwargs={"id": attachment_id})
    return f"{path}?disposition=inline" if inline else path


def inline_urls(rows: list[Attachment]) -> dict[str, str]:
    """Content-ID to inline download URL of the kept, saved rows of one message."""
    return {
        row.content_id: attachment_path(row.pk, inline=True)
        for row in rows
        if row.content_id and row.pk and row.omitted is None
    }


# Reading
# ------------------------------------------------------------------------------
class _LimitedReader:
    """A file-like view of `length` bytes of a file from its current position."""

    def __init__(self, file, length: int) -> None:
        self.file = file
        self.left = length

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.file.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


def open_stream(key: str, *, start: int = 0, length: int | None = None):
    """A readable stream of a stored file (or `length` bytes from `start`), never the
    whole file in memory: a ranged GET on S3, a seek on the folder storage."""
    storage = attachment_storage()
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:
        # S3Storage's own key for a name (its location prefix applied).
        s3_key = storage._normalize_name(key)  # type: ignore[attr-defined]
        arguments = {"Bucket": bucket.name, "Key": s3_key}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            arguments["Range"] = f"bytes={start}-{end}"
        try:
            return bucket.meta.client.get_object(**arguments)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from exc
            raise
    file = storage.open(key, "rb")
    if start:
        file.seek(start)
    return file if length is None else _LimitedReader(file, length)


def read_bytes(key: str) -> bytes:
    """The whole of a stored file (outbound mail attaches files of at most a few MiB)."""
    stream = open_stream(key)
    try:
        return stream.read()
    finally:
        stream.close()


def open_raw(key: str):
    """The original bytes of a stored raw mail, decompressed as they are read."""
    return gzip.GzipFile(fileobj=open_stream(key), mode="rb")


def read_raw(key: str) -> bytes:
    """The whole original bytes of a stored raw mail."""
    with open_raw(key) as raw:
        return raw.read()


def stored_keys(*prefixes: str) -> Iterator[str]:
    """Every key stored under the prefixes (a walk of the folder tree or the bucket)."""
    storage = attachment_storage()
    pending = list(prefixes)
    while pending:
        directory = pending.pop()
        try:
            directories, files = storage.listdir(directory)
        except FileNotFoundError:
            continue
        pending.extend(f"{directory}/{name}" for name in directories)
        yield from (f"{directory}/{name}" for name in files)


# Deleting
# ------------------------------------------------------------------------------
def _keys_of_messages(messages) -> set[str]:
    keys = set(
        Attachment.objects.filter(message__in=messages)
        .exclude(storage_key="")
        .values_list("storage_key", flat=True)
    )
    keys.update(messages.exclude(raw_key="").values_list("raw_key", flat=True))
    return keys


def unused_keys(keys: Iterable[str]) -> set[str]:
    """The keys among `keys` that no attachment or raw mail names."""
    keys = set(keys)
    if not keys:
        return set()
    used = set(
        Attachment.objects.filter(storage_key__in=keys).values_list("storage_key", flat=True)
    )
    used.update(Message.objects.filter(raw_key__in=keys).values_list("raw_key", flat=True))
    return keys - used


def delete_unused_files(keys: Iterable[str]) -> int:
    """Delete the stored files among `keys` that nothing names any more; answers how many."""
    storage = attachment_storage()
    deleted = 0
    for key in sorted(unused_keys(keys)):
        try:
            storage.delete(key)
            deleted += 1
        except Exception:
            # Left for the sweep: a storage outage must not undo the deletion of rows.
            logger.warning("Could not delete stored file %s", key, exc_info=True)
    return deleted


def delete_requests(*, request_ids: Iterable[int]) -> int:
    """Delete requests with their messages, and after commit the files only they used."""
    request_ids = list(request_ids)
    with transaction.atomic():
        keys = _keys_of_messages(Message.objects.filter(request_id__in=request_ids))
        deleted, _ = SupportRequest.objects.filter(pk__in=request_ids).delete()
        requests_changed()
        transaction.on_commit(partial(delete_unused_files, keys), robust=True)
    return deleted


def delete_messages(*, message_ids: Iterable[int]) -> int:
    """Delete messages, and after commit the files only they used."""
    message_ids = list(message_ids)
    with transaction.atomic():
        messages = Message.objects.filter(pk__in=message_ids)
        keys = _keys_of_messages(messages)
        deleted, _ = messages.delete()
        requests_changed()
        transaction.on_commit(partial(delete_unused_files, keys), robust=True)
    return deleted


def delete_attachments(*, attachment_ids: Iterable[int]) -> int:
    """Delete attachment rows, and after commit the files only they used."""
    with transaction.atomic():
        attachments = Attachment.objects.filter(pk__in=list(attachment_ids))
        keys = set(attachments.exclude(storage_key="").values_list("storage_key", flat=True))
        deleted, _ = attachments.delete()
        transaction.on_commit(partial(delete_unused_files, keys), robust=True)
    return deleted
