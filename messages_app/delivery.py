"""Sending one outbound Message through Django's email backend, exactly once."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone

from .models import DeliveryStatus, Kind, Message

logger = logging.getLogger(__name__)


def build_email(message: Message) -> EmailMultiAlternatives:
    """The mail for an outbound Message: addressing, threading headers and bodies."""
    support_request = message.request
    headers = {"Message-ID": message.rfc_message_id}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    if message.kind == Kind.AUTO:
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=f"{settings.SUPPORT_NAME} <{settings.SUPPORT_EMAIL}>",
        to=[support_request.requester_email],
        headers=headers,
    )
    if message.html:
        email.attach_alternative(message.html, "text/html")
    return email


def deliver_message(*, message_id: int) -> str | None:
    """Send a pending outbound message and record the outcome; a sent one is never sent again."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("request")
            .filter(pk=message_id, delivery_status=DeliveryStatus.PENDING)
            .first()
        )
        if message is None:
            return None
        message.attempts += 1
        try:
            get_connection(fail_silently=False).send_messages([build_email(message)])
        except Exception as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            message.save(update_fields=["attempts", "last_error"])
            logger.warning("Delivery of message %s failed: %s", message_id, message.last_error)
            return message.delivery_status
        message.delivery_status = DeliveryStatus.SENT
        message.sent_at = timezone.now()
        message.next_attempt_at = None
        message.last_error = ""
        message.save(
            update_fields=[
                "delivery_status",
                "sent_at",
                "next_attempt_at",
                "last_error",
                "attempts",
            ]
        )
    return message.delivery_status
