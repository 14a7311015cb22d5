"""Ingestion of inbound mail, the webhook's one service: screen the batch, store it under
one retry policy, acknowledge it once.

The modules beside this one do the steps: `batch` (items, results, parsing and
deduplication), `routing` (which rule places a mail: pure), `storing` (requests, messages,
attachments) and `acknowledging` (arrival events and acknowledgements).

Retry policy, in one place (`_store`):

- The batch is stored in one transaction, which starts again from a fresh read, at most
  `MAX_BATCH_ATTEMPTS` times (then IngestUnavailableError, a 503), when what it read went
  stale: a concurrent writer opened a request for one of its senders (at once: the
  writer has committed), or a request it routed mail to was closed before it was locked
  (`_StaleReadError`); or when the database rolled it back: a deadlock, a serialization
  failure, a dropped connection. Those wait first, a jittered pause that doubles each
  time, so that a burst of closes passes.
- Inside it, the fast path stores every item in a few statements. When the database
  refuses it for any other reason (a unique index: a concurrent writer stored the same
  mail; a constraint: a mail it cannot hold), the batch falls back to storing item by
  item: each from a fresh read, tried once more after a conflict (the index made it wait
  for the concurrent writer, whose rows the new read sees), and rejected alone after a
  second one.
"""

import logging
import random
import time
from collections import Counter
from datetime import datetime

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from messages_app.errors import IngestUnavailableError
from messages_app.inbound.acknowledging import acknowledge
from messages_app.inbound.batch import (
    Candidate,
    InboundItem,
    ItemResult,
    Outcome,
    screen,
)
from messages_app.inbound.storing import store_alone, store_together
from requests_app import services
from requests_app.counts import requests_changed
from servicedesk.database import drop_broken_connections

__all__ = ["InboundItem", "ItemResult", "Outcome", "ingest_batch"]

logger = logging.getLogger(__name__)

# Attempts of a batch. One rolled back by closes or deadlocks waits longer each time
# (0.05 s doubling, jittered): a burst of closes (an operator closing a page of requests)
# passes in a few seconds, and the batch then lands instead of answering 503.
MAX_BATCH_ATTEMPTS = 7
FIRST_PAUSE_SECONDS = 0.05
# Attempts of one item stored alone: a conflict, then a fresh read that sees its cause.
ITEM_ATTEMPTS = 2


class _StaleReadError(Exception):
    """A request the batch routed mail to was closed before the batch locked it."""


def ingest_batch(*, items: list[InboundItem]) -> list[ItemResult]:
    """Store each item of a webhook batch at most once, in the right request; one result each."""
    screening = screen(items)
    _store(screening.fresh, now=timezone.now())
    return screening.finish(items)


def _store(candidates: list[Candidate], *, now: datetime) -> None:
    """Store the batch in one transaction, acknowledge it and count its mail, started again
    from a fresh read when a deadlock or a concurrent close gets in its way."""
    if not candidates:
        return
    # New requests are opened in the order of the senders' addresses and existing ones
    # locked in id order at the end, so that concurrent batches wait for each other.
    # An operator's close can still complete a cycle; PostgreSQL then breaks the
    # deadlock and the batch starts again.
    ordered = sorted(candidates, key=lambda c: c.sender)
    for attempt in range(1, MAX_BATCH_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                _store_rows(ordered, candidates, now=now)
                stored = [c for c in candidates if c.is_stored]
                acknowledge(stored, now=now)
                # Existing requests are locked last, just before commit, so that batches
                # for the same senders hold each other up as briefly as possible.
                if not services.count_requester_mail(counts=_appended(stored), now=now):
                    raise _StaleReadError()
                # New requests and new mail (which the list's search reads) alike.
                requests_changed()
            return
        except (
            OperationalError,
            InterfaceError,
            _StaleReadError,
            services.RequestOpenedMeanwhileError,
        ) as exc:
            logger.info("Ingest batch rolled back (%s), attempt %s", type(exc).__name__, attempt)
            # A connection the server dropped is reopened for the next attempt.
            drop_broken_connections()
            for candidate in candidates:
                candidate.reset()
            if attempt < MAX_BATCH_ATTEMPTS and not isinstance(
                exc, services.RequestOpenedMeanwhileError
            ):
                pause = FIRST_PAUSE_SECONDS * 2**attempt
                time.sleep(random.uniform(pause / 2, pause))  # noqa: S311 (jitter, not crypto)
    raise IngestUnavailableError()


def _store_rows(
    ordered: list[Candidate], in_batch_order: list[Candidate], *, now: datetime
) -> None:
    """All at once, or item by item after the database refused the batch as a whole."""
    try:
        with transaction.atomic():
            store_together(ordered, in_batch_order, now=now)
        return
    except OperationalError:
        raise
    except DatabaseError as exc:
        logger.info("Ingest batch conflicted (%s); storing item by item", type(exc).__name__)
    for candidate in ordered:
        _store_item(candidate, now=now)


def _store_item(candidate: Candidate, *, now: datetime) -> None:
    """Store one item of the fallback in its own savepoint; rejected alone when it cannot be."""
    failure: DatabaseError | None = None
    for attempt in range(1, ITEM_ATTEMPTS + 1):
        candidate.reset()
        try:
            with transaction.atomic():
                store_alone(candidate, now=now)
            return
        except OperationalError:
            # A deadlock: only rolling back the whole batch releases what it holds.
            raise
        except DatabaseError as exc:
            logger.info(
                "Ingest item %s conflicted (%s), attempt %s",
                candidate.item.index,
                type(exc).__name__,
                attempt,
            )
            failure = exc
    # The same conflict again is no race: this item cannot be stored.
    logger.error("Ingest item %s could not be stored", candidate.item.index, exc_info=failure)
    candidate.reset()
    candidate.errors = {"non_field_errors": ["The message could not be stored."]}


def _appended(stored: list[Candidate]) -> dict[int, int]:
    """How many stored mails each request received that its opening did not count."""
    return dict(
        Counter(c.support_request.pk for c in stored if c.support_request and not c.counted)
    )
