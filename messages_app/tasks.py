from celery import shared_task

from .delivery import deliver_message


@shared_task(acks_late=True, ignore_result=True)
def deliver_message_task(message_id: int) -> None:
    """Send one outbound message by id; safe to run twice."""
    deliver_message(message_id=message_id)
