"""The shape of a webhook batch: its items, their results, and the screening that decides,
before anything is written, which items are rejected, ignored, duplicates of stored mail
or of an earlier item, and which go on to storage."""

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from django.conf import settings

from messages_app.attachments import StoredFile, keep_files, store_raw
from messages_app.models import Direction, Message, Route
from messages_app.parsing import mime
from messages_app.parsing.addresses import InvalidAddressError, content_message_id
from messages_app.parsing.mime import ParsedEmail
from requests_app.models import SupportRequest

# A stored mail: (request id, message id).
StoredIds = tuple[int, int]
Errors = dict[str, list[str]]


class Outcome(StrEnum):
    CREATED = "created"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    REJECTED = "rejected"


@dataclass
class InboundItem:
    """One item of a webhook batch after shape validation: raw mail, field form, or errors.

    Ingestion drops `raw` once the mail is parsed and stored (`release`): a batch near the
    body cap must not hold every mail's bytes until its end.
    """

    index: int
    external_id: str | None = None
    raw: bytes | None = None
    fields: dict[str, Any] | None = None
    errors: Errors | None = None

    def release(self) -> None:
        self.raw = None


@dataclass(frozen=True)
class ItemResult:
    """The one outcome of one item, as the webhook reports it."""

    index: int
    external_id: str | None
    outcome: Outcome
    request_id: int | None = None
    message_id: int | None = None
    errors: Errors | None = None


@dataclass(eq=False)
class Candidate:
    """An accepted item on its way to storage, and what storing it decided."""

    item: InboundItem
    email: ParsedEmail
    support_request: SupportRequest | None = None
    message: Message | None = None
    route: Route | None = None
    # It opened its request.
    created: bool = False
    # Its request's message_count included it when the request was opened.
    counted: bool = False
    duplicate_of: StoredIds | None = None
    errors: Errors | None = None
    # The stored bytes of the mail's files (None for an omitted one) and of the raw mail.
    files: list[StoredFile | None] = field(default_factory=list)
    raw: StoredFile | None = None

    @property
    def sender(self) -> str:
        return self.email.from_email

    @property
    def is_stored(self) -> bool:
        return self.message is not None

    def reset(self) -> None:
        """Forget what a rolled-back attempt decided."""
        self.support_request = self.message = self.route = self.duplicate_of = None
        self.created = self.counted = False
        self.errors = None


@dataclass
class Screening:
    """A batch sorted out before storage: results known already, the candidates to store
    (in batch order), and candidates repeating an earlier one of the batch."""

    results: dict[int, ItemResult] = field(default_factory=dict)
    fresh: list[Candidate] = field(default_factory=list)
    repeats: list[tuple[Candidate, Candidate]] = field(default_factory=list)

    def finish(self, items: list[InboundItem]) -> list[ItemResult]:
        """One result per item, in batch order, once `fresh` is stored."""
        results = self.results
        for candidate in self.fresh:
            results[candidate.item.index] = result_of(candidate)
        for candidate, first in self.repeats:
            original = results[first.item.index]
            if original.request_id is not None and original.message_id is not None:
                ids = (original.request_id, original.message_id)
                results[candidate.item.index] = duplicate(candidate.item, ids)
            else:
                results[candidate.item.index] = replace(
                    original, index=candidate.item.index, external_id=candidate.item.external_id
                )
        return [results[item.index] for item in items]


def screen(items: list[InboundItem]) -> Screening:
    """Reject, ignore and deduplicate the batch's items (against stored mail and within the
    batch); the rest are parsed candidates whose bytes are already in storage."""
    screening = Screening()
    results = screening.results
    checked = []
    for item in items:
        if item.errors:
            results[item.index] = rejected(item, item.errors)
        else:
            checked.append(item)

    # A known provider id is a duplicate whatever the content: no need to parse it.
    stored = stored_by_external_id({i.external_id for i in checked if i.external_id})
    candidates: list[Candidate] = []
    for item in checked:
        if item.external_id in stored:
            results[item.index] = duplicate(item, stored[item.external_id])
            item.release()
            continue
        email, errors = parse(item)
        if errors or email is None:
            results[item.index] = rejected(item, errors or {})
        elif email.from_email == settings.SUPPORT_EMAIL or email.is_bounce:
            results[item.index] = ItemResult(item.index, item.external_id, Outcome.IGNORED)
        else:
            candidates.append(_keep_bytes(Candidate(item=item, email=email)))
        item.release()

    by_message_id = stored_by_message_id(
        {c.email.message_id for c in candidates if not c.item.external_id and c.email.message_id}
    )
    first_by_key: dict[tuple[str, str], Candidate] = {}
    for candidate in candidates:
        key = dedup_key(candidate)
        if key and key[0] == "message_id" and key[1] in by_message_id:
            results[candidate.item.index] = duplicate(candidate.item, by_message_id[key[1]])
        elif key and key in first_by_key:
            screening.repeats.append((candidate, first_by_key[key]))
        else:
            if key:
                first_by_key[key] = candidate
            # Mail without an id repeats any earlier mail of the batch with its Message-ID.
            if candidate.email.message_id:
                first_by_key.setdefault(("message_id", candidate.email.message_id), candidate)
            screening.fresh.append(candidate)
    return screening


def rejected(item: InboundItem, errors: Errors) -> ItemResult:
    return ItemResult(item.index, item.external_id, Outcome.REJECTED, errors=errors)


def duplicate(item: InboundItem, ids: StoredIds) -> ItemResult:
    return ItemResult(item.index, item.external_id, Outcome.DUPLICATE, ids[0], ids[1])


def result_of(candidate: Candidate) -> ItemResult:
    """The result of a candidate that went through storage."""
    item = candidate.item
    if candidate.errors:
        return rejected(item, candidate.errors)
    if candidate.duplicate_of:
        return duplicate(item, candidate.duplicate_of)
    assert candidate.support_request is not None
    assert candidate.message is not None
    outcome = Outcome.CREATED if candidate.created else Outcome.APPENDED
    return ItemResult(
        item.index, item.external_id, outcome, candidate.support_request.pk, candidate.message.pk
    )


def _keep_bytes(candidate: Candidate) -> Candidate:
    """Write an accepted mail's files and raw bytes to storage now, so that a batch holds
    one mail's decoded files in memory at a time (rows follow in the transaction)."""
    candidate.files = keep_files(candidate.email.attachments)
    if candidate.item.raw is not None:
        candidate.raw = store_raw(candidate.item.raw)
    return candidate


def parse(item: InboundItem) -> tuple[ParsedEmail | None, Errors | None]:
    """The parsed mail of an item, or the field errors that reject it."""
    if item.raw is not None:
        email = mime.parse_raw_email(
            item.raw,
            max_attachment_bytes=settings.ATTACHMENT_MAX_BYTES,
            max_attachments=settings.ATTACHMENT_MAX_COUNT,
        )
        if not email.from_email:
            return None, {"raw": [email.sender_error or "The message has no usable sender."]}
        return email, None
    try:
        email = mime.parse_field_email(**(item.fields or {}))
    except InvalidAddressError as exc:
        return None, {"user_email": [str(exc)]}
    if not item.external_id and not email.message_id:
        # Nothing names this mail: its content does, so a replayed item is a duplicate.
        email.message_id = content_message_id(item.fields or {})
    return email, None


def dedup_key(candidate: Candidate) -> tuple[str, str] | None:
    """What makes a mail the same mail: its provider id, else its Message-ID."""
    if candidate.item.external_id:
        return ("external_id", candidate.item.external_id)
    if candidate.email.message_id:
        return ("message_id", candidate.email.message_id)
    return None


def stored_by_external_id(external_ids: set[str]) -> dict[str, StoredIds]:
    """Stored messages by provider id."""
    if not external_ids:
        return {}
    rows = Message.objects.filter(external_id__in=external_ids).values_list(
        "external_id", "request_id", "pk"
    )
    return {external_id: (request_id, pk) for external_id, request_id, pk in rows if external_id}


def stored_by_message_id(message_ids: set[str]) -> dict[str, StoredIds]:
    """Stored inbound messages by Message-ID, whether or not they came with a provider id."""
    if not message_ids:
        return {}
    rows = (
        Message.objects.filter(rfc_message_id__in=message_ids, direction=Direction.INBOUND)
        .order_by("pk")
        .values_list("rfc_message_id", "request_id", "pk")
    )
    found: dict[str, StoredIds] = {}
    for message_id, request_id, pk in rows:
        found.setdefault(message_id, (request_id, pk))
    return found


def stored_duplicate(candidate: Candidate) -> StoredIds | None:
    """The stored mail this candidate repeats, read now (a concurrent writer may have
    stored it since the batch was screened)."""
    key = dedup_key(candidate)
    if key is None:
        return None
    if key[0] == "external_id":
        return stored_by_external_id({key[1]}).get(key[1])
    return stored_by_message_id({key[1]}).get(key[1])
