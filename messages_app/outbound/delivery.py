"""Sending one outbound Message through Django's email backend, at most once per claim.

A delivery runs in three steps:

1. **Claim** (a short transaction): lock the row (`SELECT ... FOR UPDATE SKIP LOCKED`
   on PostgreSQL; SQLite serialises writers with `BEGIN IMMEDIATE`), check it is still
   `pending` and due, count the attempt and push `next_attempt_at` past the longest a
   send can take (the claim lease). Commit.
2. **Send** through Django's email backend, outside any transaction, so no database
   lock or SQLite write lock is held while an SMTP server is slow.
3. **Record** (a second short transaction): `sent` and `sent_at`, or the error with the
   next attempt time (exponential backoff with jitter), or `failed`.

Why this shape, and not a `sending` status or one long locked transaction: the contract
knows only `pending`, `sent` and `failed`, and a transaction held open over SMTP would
block every other writer on SQLite. The committed claim gives the same guarantees: a
second worker (a duplicate task, a re-drive, a redelivered `acks_late` message) skips a
row another worker holds (skip_locked) and finds a claimed row not due, so two workers
never send one message. The only window for a duplicate mail is a crash after the SMTP
server accepted the mail and before step 3 commits; SMTP offers no way to close it.
After such a crash the row is retried when the lease expires; a message whose attempts
keep dying (`OUTBOUND_MAX_UNFINISHED_ATTEMPTS` in a row) is failed, so it cannot loop.

Temporary failures (connection refused, timeouts, SMTP 4xx) keep a mail pending with
capped backoff for as long as an outage lasts, up to `give_up_at`
(`OUTBOUND_GIVE_UP_AFTER_DAYS` after it was queued); past it the mail is failed and
reported (an error in the log, `servicedesk_outbound_given_up` in the metrics). Only a
permanent answer (SMTP 5xx for this mail or recipient) fails a mail at once.
"""

import logging
import random
import smtplib
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from messages_app.attachments import read_bytes
from messages_app.models import DeliveryStatus, Kind, Message
from messages_app.parsing.addresses import message_ids
from messages_app.parsing.text import clean_header_value
from requests_app.events import record_event
from requests_app.models import EventType

logger = logging.getLogger(__name__)

# SMTP replies that mean "the server is not accepting mail from us right now" rather
# than "this message can never be delivered": a wrong password or a TLS requirement is
# fixed in the configuration, after which every held message should go out unattended.
CONFIGURATION_CODES = frozenset({530, 534, 535, 538})

# Seconds between tries to store the outcome of a send when the database errors.
RECORD_RETRY_PAUSES = (0.5, 2.0)

# `last_error` of a mail failed at the horizon starts with this (the metrics count them).
GAVE_UP_PREFIX = "Gave up after temporary failures until the delivery horizon: "
UNFINISHED_ERROR = "The last delivery attempts did not finish."
# The attempts counter is a small integer; a very long outage must not overflow it.
MAX_COUNTED_ATTEMPTS = 30000


def build_email(message: Message) -> EmailMultiAlternatives:
    """The mail for an outbound Message: addressing, threading headers and bodies."""
    support_request = message.request
    headers = {"Message-ID": message.rfc_message_id}
    in_reply_to = message_ids(message.in_reply_to)
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to[-1]
    references = message_ids(message.references)
    if references:
        headers["References"] = " ".join(references)
    if message.kind == Kind.AUTO:
        # RFC 3834: automatic replies must not trigger automatic replies; the second
        # header is the one Exchange and Outlook honour.
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    # The bare address: the recipient is never chosen by anyone but the request, and a
    # display name taken from a stranger's mail has no business in our headers.
    recipient = clean_header_value(support_request.requester_email)
    email = EmailMultiAlternatives(
        subject=clean_header_value(message.subject),
        body=message.body,
        from_email=formataddr((clean_header_value(settings.SUPPORT_NAME), settings.SUPPORT_EMAIL)),
        to=[recipient],
        headers=headers,
    )
    if message.html:
        email.attach_alternative(message.html, "text/html")
    # The files are read from the shared storage: web and worker may be different hosts.
    for attachment in message.attachments.filter(omitted__isnull=True).order_by("position", "id"):
        email.attach(
            attachment.filename, read_bytes(attachment.storage_key), attachment.content_type
        )
    return email


# Failures and backoff
# ------------------------------------------------------------------------------
def is_permanent_failure(exc: BaseException) -> bool:
    """True for failures retrying cannot fix: SMTP 5xx about this message or its recipient."""
    if isinstance(exc, ValueError):
        # Django's checks on the mail itself (an unparsable address, a bad header):
        # the same message fails the same way every time.
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return 500 <= code < 600 and code not in CONFIGURATION_CODES
    # Connection errors, timeouts, 4xx replies, a dropped connection: try again later.
    return False


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter before attempt `attempts + 1`."""
    base = settings.OUTBOUND_RETRY_BASE_SECONDS
    ceiling = settings.OUTBOUND_RETRY_MAX_SECONDS
    # The exponent is capped: 2**1100 does not fit a float.
    delay = min(ceiling, base * 2 ** min(max(attempts - 1, 0), 64))
    # "Equal jitter": at least half the delay, so retries of a burst of mail queued
    # during one outage spread out instead of hitting the server together.
    return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))  # noqa: S311


def give_up_after() -> timedelta:
    """How long temporary failures may keep a mail pending."""
    return timedelta(days=settings.OUTBOUND_GIVE_UP_AFTER_DAYS)


def give_up_time(message: Message) -> datetime:
    return message.give_up_at or message.created_at + give_up_after()


def claim_lease() -> timedelta:
    """How long a claimed row is left alone: longer than a send can take before it is killed."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.EMAIL_TIMEOUT)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


# Delivery
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    message_id: int
    attempts: int


def due_filter(now: datetime) -> Q:
    """Pending rows whose next attempt time has come (or was never set)."""
    return Q(delivery_status=DeliveryStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def claim_message(*, message_id: int) -> Claim | None:
    """Lock a due pending message and count the attempt; None when it is not ours to send."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(due_filter(now), pk=message_id)
            .only(
                "pk",
                "attempts",
                "unfinished_attempts",
                "delivery_status",
                "next_attempt_at",
                "last_error",
            )
            .first()
        )
        if message is None:
            return None
        if message.unfinished_attempts >= settings.OUTBOUND_MAX_UNFINISHED_ATTEMPTS:
            # Its attempts keep killing their worker: give up rather than loop.
            message.delivery_status = DeliveryStatus.FAILED
            message.next_attempt_at = None
            message.last_error = UNFINISHED_ERROR
            message.save(update_fields=["delivery_status", "next_attempt_at", "last_error"])
            logger.error(
                "Message %s failed: %s attempts in a row did not finish",
                message.pk,
                message.unfinished_attempts,
            )
            _record_failure(message.pk, message.last_error)
            return None
        message.attempts = min(message.attempts + 1, MAX_COUNTED_ATTEMPTS)
        message.unfinished_attempts += 1
        message.next_attempt_at = now + claim_lease()
        message.save(update_fields=["attempts", "unfinished_attempts", "next_attempt_at"])
    return Claim(message_id=message.pk, attempts=message.attempts)


def send_email(email: EmailMultiAlternatives) -> None:
    """Send one mail through the configured backend; raise if it was not accepted."""
    connection = get_connection(fail_silently=False)
    connection.open()
    try:
        if connection.send_messages([email]) != 1:
            raise ValueError("The mail has no recipient.")
    finally:
        # The mail is accepted at the end of DATA; an error while saying goodbye must
        # not turn a sent mail into a failed one (and a duplicate on retry).
        with suppress(Exception):
            connection.close()


def record_outcome(*, claim: Claim, error: BaseException | None) -> str:
    """Store the outcome of a claimed attempt; returns the new delivery status."""
    now = timezone.now()
    # The columns the outcome sets, by name (times, the error's text, counters).
    fields: dict[str, Any]
    if error is None:
        status = DeliveryStatus.SENT
        fields = {"sent_at": now, "next_attempt_at": None, "last_error": ""}
    elif is_permanent_failure(error):
        status = DeliveryStatus.FAILED
        fields = {"next_attempt_at": None, "last_error": describe(error)}
    else:
        message = Message.objects.only("created_at", "give_up_at").get(pk=claim.message_id)
        if now >= give_up_time(message):
            status = DeliveryStatus.FAILED
            fields = {"next_attempt_at": None, "last_error": GAVE_UP_PREFIX + describe(error)}
            logger.error(
                "Gave up on message %s after %s attempts: temporary failures lasted past "
                "its delivery horizon (OUTBOUND_GIVE_UP_AFTER_DAYS); last error: %s",
                claim.message_id,
                claim.attempts,
                describe(error),
            )
        else:
            status = DeliveryStatus.PENDING
            next_attempt = min(now + retry_delay(claim.attempts), give_up_time(message))
            fields = {"next_attempt_at": next_attempt, "last_error": describe(error)}
    fields["unfinished_attempts"] = 0
    # After an accepted mail, failing to record it means sending it again later: ride
    # out a short database blip (a failover, a dropped connection) before giving up.
    for pause in (*RECORD_RETRY_PAUSES, None):
        try:
            with transaction.atomic():
                updated = Message.objects.filter(
                    pk=claim.message_id,
                    delivery_status=DeliveryStatus.PENDING,
                    attempts=claim.attempts,
                ).update(delivery_status=status, **fields)
                if updated and status == DeliveryStatus.FAILED:
                    _record_failure(claim.message_id, fields["last_error"])
            break
        except (OperationalError, InterfaceError):
            if pause is None:
                raise
            logger.warning("Could not record delivery of message %s; retrying", claim.message_id)
            if not connections["default"].in_atomic_block:
                connections["default"].close()
            time.sleep(pause)
    if not updated:
        logger.error("Message %s changed while it was being sent", claim.message_id)
    return status


def _record_failure(message_id: int, error: str) -> None:
    """The request's `mail_failed` event, in the transaction that marks the mail failed."""
    request_id = Message.objects.filter(pk=message_id).values_list("request_id", flat=True).first()
    if request_id is not None:
        record_event(
            request_id=request_id,
            type=EventType.MAIL_FAILED,
            data={"message_id": message_id, "error": error},
        )


def deliver_message(*, message_id: int) -> str | None:
    """Send a due pending outbound message and record the outcome; None when nothing was due."""
    claim = claim_message(message_id=message_id)
    if claim is None:
        return None
    error: BaseException | None = None
    try:
        message = Message.objects.select_related("request").get(pk=message_id)
        send_email(build_email(message))
    except Exception as exc:
        error = exc
    status = record_outcome(claim=claim, error=error)
    if error is not None:
        logger.warning(
            "Delivery of message %s, attempt %s, failed (%s): %s",
            message_id,
            claim.attempts,
            status,
            describe(error),
        )
    else:
        logger.info("Sent message %s on attempt %s", message_id, claim.attempts)
    return status


def due_message_ids(*, limit: int = 500) -> list[int]:
    """Ids of pending messages whose next attempt is due, oldest first."""
    return list(
        Message.objects.filter(due_filter(timezone.now()))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
