from django.db import models
from django.db.models import Q
from django.utils import timezone

from operators_app.models import Operator
from requests_app.models import SupportRequest

# The most text an operator's message (a reply, a note, the mail opening a request, a
# canned reply filled in) may hold, in characters.
OPERATOR_TEXT_MAX_CHARS = 100_000


class Direction(models.TextChoices):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class Kind(models.TextChoices):
    REQUESTER = "requester", "Requester"
    OPERATOR = "operator", "Operator"
    AUTO = "auto", "Automatic notice"
    NOTE = "note", "Internal note"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Route(models.TextChoices):
    """Why an inbound mail landed in its request: the routing rule of API.md that placed
    it (first match wins). Blank for outbound mail and notes."""

    THREAD = "thread", "Thread headers name the request's mail"
    SUBJECT = "subject", "Subject names the request"
    OPEN_REQUEST = "open_request", "Sender's open request"
    NEW = "new", "Opened a new request"


class Message(models.Model):
    """One mail of a request: inbound from the requester, or outbound (and then the outbox row)."""

    request = models.ForeignKey(SupportRequest, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    author_email = models.EmailField(max_length=254)
    author_name = models.CharField(max_length=200, blank=True)
    operator = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    # The new text of a reply without quoted history and signature; equals `body` when
    # there is none.
    reply = models.TextField(blank=True)
    # Sanitised HTML (nh3) of an inbound mail; never served as live HTML.
    html = models.TextField(blank=True)
    # The mail provider's id (Gmail's message id), the idempotency key of the webhook.
    external_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    rfc_message_id = models.CharField(max_length=255, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    # Which routing rule placed an inbound mail in its request ("" for other mail).
    route = models.CharField(
        max_length=20, choices=Route.choices, blank=True, default="", db_default=""
    )
    # Headers that matter later (automatic-mail markers, To/Cc, Date, ...).
    headers = models.JSONField(default=dict, blank=True)
    # The original RFC 822 bytes of raw-form mail, gzip-compressed in the attachments
    # storage (content-addressed; several messages may share one key); "" when not kept.
    raw_key = models.CharField(max_length=255, blank=True)
    raw_size = models.PositiveBigIntegerField(null=True, blank=True)
    # The Date header of an inbound mail (time of receipt when it has none).
    date = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    # Outbound delivery state; null/zero for inbound mail.
    delivery_status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, null=True, blank=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Claimed attempts in a row that never reported back (their worker died mid-send).
    unfinished_attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Past this time a temporary failure fails the mail (OUTBOUND_GIVE_UP_AFTER_DAYS after
    # it was queued); null: that long after `created_at`.
    give_up_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Inbound mail without a provider id is deduplicated by its Message-ID, and
            # every Message-ID the service generates is unique.
            models.UniqueConstraint(
                fields=["rfc_message_id"],
                condition=Q(external_id__isnull=True) & ~Q(rfc_message_id=""),
                name="message_rfc_id_unique_without_external_id",
            ),
            models.CheckConstraint(
                condition=Q(direction__in=Direction.values), name="message_direction_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="message_kind_valid"),
            models.CheckConstraint(
                condition=(
                    Q(
                        direction__in=[Direction.INBOUND, Direction.INTERNAL],
                        delivery_status__isnull=True,
                    )
                    | Q(direction=Direction.OUTBOUND, delivery_status__in=DeliveryStatus.values)
                ),
                name="message_delivery_status_matches_direction",
            ),
            models.CheckConstraint(
                condition=~Q(direction=Direction.OUTBOUND) | ~Q(rfc_message_id=""),
                name="outbound_message_has_message_id",
            ),
        ]
        indexes = [
            models.Index(fields=["request", "created_at", "id"], name="message_request_created"),
            models.Index(fields=["rfc_message_id"], name="message_rfc_id"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(delivery_status=DeliveryStatus.PENDING),
                name="message_outbox_due",
            ),
            # Deleting files asks whether any other message still keeps the same raw mail.
            models.Index(fields=["raw_key"], condition=~Q(raw_key=""), name="message_raw_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk} on request #{self.request_id}"


class OmittedReason(models.TextChoices):
    TOO_LARGE = "too_large", "Over ATTACHMENT_MAX_BYTES"
    TOO_MANY = "too_many", "Over ATTACHMENT_MAX_COUNT"
    NOT_FORWARDED = "not_forwarded", "Not forwarded"


class Attachment(models.Model):
    """One file of a message (or a file left out, with the reason); bytes live in storage."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    # Document order within the message.
    position = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=255)
    # The type the mail declared, and the one the download view answers with (declared
    # types a browser would run or render as a document are served as octet-stream).
    content_type = models.CharField(max_length=255)
    served_content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    inline = models.BooleanField(default=False)
    content_id = models.CharField(max_length=255, blank=True)
    omitted = models.CharField(max_length=20, choices=OmittedReason.choices, null=True, blank=True)
    # Key in the attachments storage; content-addressed, so messages may share one.
    storage_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["message_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(omitted__isnull=True) & ~Q(storage_key="")
                | Q(omitted__in=OmittedReason.values, storage_key=""),
                name="attachment_kept_has_key_omitted_has_none",
            ),
        ]
        indexes = [
            models.Index(fields=["message", "position"], name="attachment_message_position"),
            models.Index(fields=["storage_key"], name="attachment_storage_key"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.size} bytes) of message #{self.message_id}"

    @property
    def is_kept(self) -> bool:
        return self.omitted is None


class CannedReply(models.Model):
    """A reusable reply text; placeholders are filled in by `canned.render_canned_reply`."""

    title = models.CharField(max_length=200)
    body = models.TextField()
    created_by = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="canned_replies"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title
