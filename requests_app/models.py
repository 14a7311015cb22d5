from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from operators_app.models import Operator


class Status(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    CLOSED = "closed", "Closed"


# The status machine: the statuses each status may move to. `change_status` in
# services.py is the one place that consults it and writes `status`.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS)


class Party(models.TextChoices):
    """Who wrote the newest human message of a request (automatic notices do not count)."""

    REQUESTER = "requester"
    OPERATOR = "operator"


class SupportRequest(models.Model):
    """A requester's conversation with support, opened by their first mail."""

    subject = models.CharField(max_length=500, blank=True)
    requester_email = models.EmailField(max_length=254)
    requester_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    operator = models.ForeignKey(
        Operator,
        null=True,
        blank=True,
        # An operator with history is deactivated, never deleted out from under it.
        on_delete=models.PROTECT,
        related_name="requests",
    )
    # The holder's name, copied by the services that set `operator` or rename an operator,
    # so that the list's `operator` ordering walks an index of this table (null: nobody).
    operator_name = models.CharField(max_length=150, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    last_reply_by = models.CharField(max_length=20, choices=Party.choices, blank=True)
    # The first operator reply (not a notice or a note); null until there is one.
    first_response_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["requester_email"],
                condition=~Q(status=Status.CLOSED),
                name="one_open_request_per_requester",
                violation_error_message="This requester already has an open request.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values),
                name="request_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.IN_PROGRESS) | Q(operator__isnull=False),
                name="in_progress_has_operator",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.CLOSED) | Q(closed_at__isnull=False),
                name="closed_has_closed_at",
            ),
            models.CheckConstraint(
                condition=Q(requester_email=Lower("requester_email")),
                name="requester_email_is_lower_case",
            ),
        ]
        # The list API filters by status and orders by a time with `id` as the tiebreak:
        # each (status, time, id) index hands PostgreSQL a page of 50 without sorting,
        # and (time, id) does the same without a status filter.
        indexes = [
            models.Index(fields=["status", "-created_at", "-id"], name="request_status_created"),
            models.Index(fields=["status", "-updated_at", "-id"], name="request_status_updated"),
            models.Index(
                fields=["status", "-last_message_at", "-id"], name="request_status_last_message"
            ),
            models.Index(fields=["operator", "status"], name="request_operator_status"),
            models.Index(fields=["requester_email", "-created_at"], name="request_requester"),
            models.Index(fields=["-created_at", "-id"], name="request_created"),
            models.Index(fields=["-updated_at", "-id"], name="request_updated"),
            models.Index(fields=["-last_message_at", "-id"], name="request_last_message"),
            # The other orderings of the list, each with its `id` tiebreak, so that a page
            # (also a deep one, read through the index alone) needs no sort of every row.
            models.Index(fields=["subject", "id"], name="request_subject_id"),
            models.Index(fields=["requester_email", "id"], name="request_requester_id"),
            models.Index(fields=["status", "id"], name="request_status_id"),
            models.Index(fields=["operator", "id"], name="request_operator_id"),
            # The console's default queue order over open requests: waiting on an operator
            # (the requester wrote last) first, the longest wait first; for everyone's, and
            # for one operator's (or nobody's) requests.
            models.Index(
                fields=["-last_reply_by", "last_message_at", "id"],
                condition=~Q(status=Status.CLOSED),
                name="request_desk_waiting",
            ),
            models.Index(
                fields=["operator", "-last_reply_by", "last_message_at", "id"],
                condition=~Q(status=Status.CLOSED),
                name="request_desk_waiting_operator",
            ),
            models.Index(fields=["operator_name", "id"], name="request_operator_name_id"),
        ]

    def __str__(self) -> str:
        return f"[#{self.pk}] {self.subject}"

    @property
    def token(self) -> str:
        """The request token every outbound subject carries: `[#<id>]`."""
        return f"[#{self.pk}]"

    @property
    def is_open(self) -> bool:
        return self.status != Status.CLOSED

    @property
    def waiting_on(self) -> str | None:
        return waiting_on(status=self.status, last_reply_by=self.last_reply_by)


def waiting_on(*, status: str, last_reply_by: str) -> str | None:
    """Whose turn it is to write: the other party than the last to write, nobody once closed."""
    if status == Status.CLOSED or not last_reply_by:
        return None
    return Party.OPERATOR if last_reply_by == Party.REQUESTER else Party.REQUESTER


class EventType(models.TextChoices):
    CREATED = "created", "Created"
    MESSAGE_RECEIVED = "message_received", "Mail received"
    TAKEN = "taken", "Taken"
    ASSIGNED = "assigned", "Assigned"
    REPLIED = "replied", "Replied"
    NOTED = "noted", "Note added"
    CLOSED = "closed", "Closed"
    NOTICE_SENT = "notice_sent", "Notice sent"
    MAIL_FAILED = "mail_failed", "Mail failed"


class ActorType(models.TextChoices):
    OPERATOR = "operator"
    REQUESTER = "requester"
    SYSTEM = "system"


class RequestEvent(models.Model):
    """One entry of a request's history, written in the transaction of the change it records."""

    request = models.ForeignKey(SupportRequest, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=20, choices=EventType.choices)
    at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    operator = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=EventType.values), name="request_event_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(actor_type__in=ActorType.values), name="request_event_actor_valid"
            ),
        ]
        indexes = [models.Index(fields=["request", "at", "id"], name="request_event_request_at")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} on request #{self.request_id}"
