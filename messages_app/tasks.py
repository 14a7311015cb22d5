"""Celery tasks of outbound mail: deliver one message, re-drive what is due.

Retry policy: no Celery-level retries (`max_retries=0`). The row is the schedule: a
failed attempt stores `next_attempt_at` (exponential backoff with jitter, see
`delivery.retry_delay`), and `redrive_outbox_task`, run by beat every
`OUTBOUND_REDRIVE_SECONDS`, queues whatever is due. Nothing is lost when a retry could
not be queued, and a task lost with a broker restart is re-driven too.
"""

import logging

from celery import shared_task

from messages_app.outbound.delivery import deliver_message, due_message_ids

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=0)
def deliver_message_task(message_id: int) -> str | None:
    """Send one outbound message by id if it is pending and due; safe to run twice."""
    return deliver_message(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True, max_retries=0)
def redrive_outbox_task(limit: int = 500) -> int:
    """Queue a delivery for every pending message that is due; returns how many were queued."""
    queued = 0
    for message_id in due_message_ids(limit=limit):
        try:
            deliver_message_task.delay(message_id)
        except Exception:
            # The broker went away mid-run: the rest stays due for the next run.
            logger.warning(
                "Re-drive stopped: could not queue message %s", message_id, exc_info=True
            )
            break
        queued += 1
    if queued:
        logger.info("Re-drive queued %s due message(s)", queued)
    return queued
