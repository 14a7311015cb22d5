"""Fill the database with realistic demo data: operators, requests in every status, their mail.

Rows go in with bulk inserts, batch by batch, each batch in one transaction, with the
counters the application keeps (`message_count`, `last_message_at`, `last_reply_by`)
computed up front and every constraint respected: one open request per requester, an
operator on every request in progress, `closed_at` on every closed one.

    manage.py seed_demo --requests 100000
"""

import contextlib
import datetime
import io
import json
import random
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from operators_app.models import Operator
from requests_app.counts import requests_changed
from requests_app.models import OPEN_STATUSES, Party, Status, SupportRequest

FIRST_NAMES = [
    "Alice", "Boris", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Irina", "Jamal",
    "Katya", "Lars", "Maria", "Nikolai", "Olga", "Pavel", "Quentin", "Rosa", "Sergei", "Tanya",
    "Umar", "Vera", "Wei", "Xenia", "Yusuf", "Zoe", "Anna", "Ben", "Carmen", "David",
]  # fmt: skip
LAST_NAMES = [
    "Ivanova", "Smith", "Petrov", "Garcia", "Kowalski", "Novak", "Schmidt", "Rossi", "Dubois",
    "Sato", "Kim", "Olsen", "Silva", "Popescu", "Horvat", "Nielsen", "Jones", "Moreau", "Volkov",
    "Berg",
]  # fmt: skip
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example", "branch.example"]
PROBLEMS = [
    ("Printer on floor {n} is jamming", "The printer by the kitchen jams on every page."),
    ("Cannot connect to the VPN", "Since this morning the VPN client says authentication failed."),
    ("Password reset for {name}", "I forgot my password after the holidays, please reset it."),
    ("Laptop battery drains fast", "My laptop lasts barely an hour away from the charger."),
    ("Request for a second monitor", "Could I get a second monitor for my desk in room {n}?"),
    ("Outlook keeps asking for my password", "Outlook prompts for the password every hour."),
    ("Access to the finance share", "I need read access to the finance share for the audit."),
    ("Wi-Fi drops in meeting room {n}", "The Wi-Fi in meeting room {n} drops every few minutes."),
    ("New employee starting Monday", "Please prepare an account and a laptop for a new hire."),
    ("Phone not ringing", "My desk phone shows calls on the screen but never rings."),
    ("Software licence for the design team", "We need three more licences for the editor."),
    ("Scanner sends empty PDFs", "Scans to email arrive as empty PDF files."),
]
OPERATOR_REPLIES = [
    "Thanks for reporting this. Could you tell me the asset number on the sticker?",
    "I have reset it on our side; please try again and let me know.",
    "A technician will come by this afternoon.",
    "Could you send a screenshot of the error message?",
    "This should be fixed now. Please confirm it works for you.",
]
REQUESTER_REPLIES = [
    "Sure, it is {n}.",
    "Still the same, unfortunately.",
    "Thanks, it works now!",
    "Here is the screenshot you asked for.",
    "I will be at my desk after lunch.",
]
SIGNATURE_SEPARATOR = "\n\n--\n"
SIGNATURE = SIGNATURE_SEPARATOR + "{name}\n"

# The shape of the demo. A requester writes about this many requests on average.
REQUESTS_PER_REQUESTER = 3
# A requester's latest request is closed when a roll (0..1) falls below the first bound,
# new below the second, in progress otherwise; earlier requests are always closed.
CLOSED_BELOW = 0.6
NEW_BELOW = 0.75
# Closed requests nobody ever took.
NEVER_TAKEN_SHARE = 0.1
# Creation times lean towards the recent end of the span (a power above 1 of a uniform
# roll), and stop this long before now, so that every thread fits before now.
RECENCY_SKEW = 1.5
NEWEST_AGE = datetime.timedelta(days=3)
# Hours after which each kind of step in a thread happens at the latest.
ACKNOWLEDGED_WITHIN_HOURS = 0.01
TAKEN_WITHIN_HOURS = 8
OPERATOR_REPLY_WITHIN_HOURS = 6
REQUESTER_REPLY_WITHIN_HOURS = 12
CLOSED_WITHIN_HOURS = 24
# ... and at the earliest.
STEP_AFTER_HOURS = 0.05
# Replies back and forth once a request is taken, at most.
MAX_TURNS = 4
# Floors, rooms and asset numbers in the texts run from 1 to this.
HIGHEST_NUMBER = 12
DEFAULT_BATCH_SIZE = 2000


@dataclass
class _Plan:
    """One request and its thread as column values (attnames), before insertion."""

    request: dict
    messages: list[dict] = field(default_factory=list)


@contextlib.contextmanager
def _keep_given_updated_at():
    """Let bulk inserts store the computed `updated_at` instead of auto_now's "now"."""
    updated_at = SupportRequest._meta.get_field("updated_at")
    previous = updated_at.auto_now
    updated_at.auto_now = False
    try:
        yield
    finally:
        updated_at.auto_now = previous


class Command(BaseCommand):
    help = "Fill the database with realistic demo requests, messages and operators."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=1000, help="How many requests.")
        parser.add_argument("--operators", type=int, default=8, help="How many operators.")
        parser.add_argument(
            "--operator-password",
            default="",
            help="Password of the demo operators (default: none, they cannot log in by password).",
        )
        parser.add_argument("--days", type=int, default=365, help="Spread over this many days.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeats.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        count = options["requests"]
        if count < 0 or options["operators"] < 1 or options["batch_size"] < 1:
            raise CommandError("--requests must be >= 0, --operators and --batch-size >= 1.")
        self.rng = random.Random(options["seed"])  # noqa: S311 - demo data, not secrets
        self.run_tag = uuid.uuid4().hex[:8]
        self.now = timezone.now()
        self.span = datetime.timedelta(days=max(options["days"], 1))
        self.domain = settings.MESSAGE_ID_DOMAIN
        operators = self._operators(options["operators"], options["operator_password"])
        plans = self._plan(count, operators)

        progress = tqdm(
            total=len(plans),
            unit="req",
            desc="Seeding requests",
            disable=options["no_progress"],
            file=self.stdout,
        )
        messages = 0
        size = options["batch_size"]
        with _keep_given_updated_at():
            for start in range(0, len(plans), size):
                messages += self._insert(plans[start : start + size])
                progress.update(len(plans[start : start + size]))
        progress.close()
        requests_changed()
        self._analyze()
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {len(plans)} requests with {messages} messages; "
                f"{len(operators)} demo operators (usernames demo-*)."
            )
        )

    # --- operators -------------------------------------------------------------------

    def _operators(self, count: int, password: str) -> list[Operator]:
        """Demo operators `demo-<name>`, reused when they exist."""
        user_model = get_user_model()
        operators = []
        for index in range(count):
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            suffix = "" if index < len(FIRST_NAMES) else str(index // len(FIRST_NAMES))
            username = f"demo-{first.lower()}{suffix}"
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@{self.domain}"}
            )
            if created:
                if password:
                    user.set_password(password)
                else:
                    user.set_unusable_password()
                user.save(update_fields=["password"])
            operator, _ = Operator.objects.get_or_create(
                user=user, defaults={"name": f"{first} {LAST_NAMES[index % len(LAST_NAMES)]}"}
            )
            operators.append(operator)
        return operators

    # --- planning --------------------------------------------------------------------

    def _plan(self, count: int, operators: list[Operator]) -> list[_Plan]:
        """Requests grouped by requester; only a requester's latest request may be open."""
        rng = self.rng
        busy = set(
            SupportRequest.objects.filter(status__in=OPEN_STATUSES).values_list(
                "requester_email", flat=True
            )
        )
        requesters = max(1, count // REQUESTS_PER_REQUESTER)
        by_requester: dict[int, list[datetime.datetime]] = {}
        for _ in range(count):
            created = self.now - NEWEST_AGE - self.span * rng.random() ** RECENCY_SKEW
            by_requester.setdefault(rng.randrange(requesters), []).append(created)

        plans = []
        for number, times in by_requester.items():
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            # The run tag keeps a second run's requesters apart from the first run's.
            email = f"{first}.{last}.{self.run_tag}{number}@{rng.choice(DOMAINS)}".lower()
            name = f"{first} {last}"
            times.sort()
            for position, created in enumerate(times):
                is_latest = position == len(times) - 1
                roll = rng.random()
                if not is_latest or email in busy or roll < CLOSED_BELOW:
                    status = Status.CLOSED
                elif roll < NEW_BELOW:
                    status = Status.NEW
                else:
                    status = Status.IN_PROGRESS
                plans.append(self._plan_one(email, name, created, status, operators))
        plans.sort(key=lambda plan: plan.request["created_at"])
        return plans

    def _plan_one(self, email, name, created, status, operators) -> _Plan:
        """One request and its thread, with the counters the outbox would have kept."""
        rng = self.rng
        subject_template, body_template = rng.choice(PROBLEMS)
        values = {"n": rng.randint(1, HIGHEST_NUMBER), "name": name}
        subject = subject_template.format(**values)
        operator = rng.choice(operators) if status != Status.NEW else None
        if status == Status.CLOSED and rng.random() < NEVER_TAKEN_SHARE:
            operator = None  # closed without ever being taken
        request = {
            "subject": subject,
            "requester_email": email,
            "requester_name": name,
            "status": status,
            "operator_id": operator.pk if operator else None,
            "operator_name": operator.name if operator else None,
            "created_at": created,
            "taken_at": None,
            "closed_at": None,
        }
        plan = _Plan(request=request)
        clock = created

        def later(hours: float) -> datetime.datetime:
            nonlocal clock
            clock = min(
                clock + datetime.timedelta(hours=rng.uniform(STEP_AFTER_HOURS, hours)), self.now
            )
            return clock

        first_body = body_template.format(**values) + SIGNATURE.format(name=name)
        self._add(plan, Kind.REQUESTER, subject, first_body, created)
        self._add(plan, Kind.AUTO, "We received your request", "", later(ACKNOWLEDGED_WITHIN_HOURS))
        if operator is not None:
            request["taken_at"] = later(TAKEN_WITHIN_HOURS)
            self._add(plan, Kind.AUTO, "Your request is in progress", "", clock)
            for turn in range(rng.randint(0, MAX_TURNS)):
                if turn % 2 == 0:
                    text = rng.choice(OPERATOR_REPLIES)
                    self._add(
                        plan,
                        Kind.OPERATOR,
                        f"Re: {subject}",
                        text,
                        later(OPERATOR_REPLY_WITHIN_HOURS),
                        operator,
                    )
                else:
                    text = rng.choice(REQUESTER_REPLIES).format(**values)
                    self._add(
                        plan,
                        Kind.REQUESTER,
                        f"Re: {subject}",
                        text,
                        later(REQUESTER_REPLY_WITHIN_HOURS),
                    )
        if status == Status.CLOSED:
            request["closed_at"] = later(CLOSED_WITHIN_HOURS)
            self._add(plan, Kind.AUTO, "Your request is closed", "", clock)
        last_human = [m for m in plan.messages if m["kind"] != Kind.AUTO][-1]
        replies = [m["created_at"] for m in plan.messages if m["kind"] == Kind.OPERATOR]
        request["first_response_at"] = replies[0] if replies else None
        request["message_count"] = len(plan.messages)
        request["last_message_at"] = plan.messages[-1]["created_at"]
        request["last_reply_by"] = (
            Party.REQUESTER if last_human["kind"] == Kind.REQUESTER else Party.OPERATOR
        )
        request["updated_at"] = max(request["last_message_at"], request["closed_at"] or created)
        return plan

    def _add(self, plan, kind, subject, body, at, operator=None) -> None:
        request = plan.request
        inbound = kind == Kind.REQUESTER
        if kind == Kind.AUTO:
            body = "This is an automatic message about your request."
        plan.messages.append(
            {
                "direction": Direction.INBOUND if inbound else Direction.OUTBOUND,
                "kind": kind,
                "author_email": request["requester_email"] if inbound else settings.SUPPORT_EMAIL,
                "author_name": request["requester_name"] if inbound else "",
                "operator_id": operator.pk if operator else None,
                "subject": subject,
                "body": body,
                "reply": body.split(SIGNATURE_SEPARATOR)[0],
                "rfc_message_id": f"<demo-{uuid.uuid4().hex}@{self.domain}>",
                "date": at,
                "created_at": at,
                "delivery_status": None if inbound else DeliveryStatus.SENT,
                "attempts": 0 if inbound else 1,
                "sent_at": None if inbound else at,
            }
        )

    # --- writing ---------------------------------------------------------------------

    def _insert(self, plans: list[_Plan]) -> int:
        """One batch in one transaction: the requests, then their messages."""
        with transaction.atomic():
            if connection.vendor == "postgresql":
                ids = self._reserve_request_ids(len(plans))
            else:
                created = SupportRequest.objects.bulk_create(
                    [SupportRequest(**plan.request) for plan in plans]
                )
                ids = [request.pk for request in created]
            messages = []
            for plan, request_id in zip(plans, ids, strict=True):
                plan.request["id"] = request_id
                token = f"[#{request_id}]"
                for message in plan.messages:
                    message["request_id"] = request_id
                    if message["kind"] == Kind.AUTO:
                        message["subject"] = f"{message['subject']} {token}"
                    messages.append(message)
            if connection.vendor == "postgresql":
                _copy(SupportRequest, [plan.request for plan in plans], with_id=True)
                _copy(Message, messages, with_id=False)
            else:
                Message.objects.bulk_create(
                    [Message(**m) for m in messages], batch_size=DEFAULT_BATCH_SIZE
                )
        return len(messages)

    @staticmethod
    def _reserve_request_ids(count: int) -> list[int]:
        """Ids from the table's own sequence, so COPY can write requests and messages at once."""
        table = SupportRequest._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]

    def _analyze(self) -> None:
        """Fresh planner statistics, so the first queries on the new rows use the indexes."""
        tables = [SupportRequest._meta.db_table, Message._meta.db_table]
        # VACUUM also sets the visibility map that index-only scans rely on; it cannot run
        # inside a transaction (as under a test), where a plain ANALYZE does.
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        with connection.cursor() as cursor:
            for table in tables:
                name = connection.ops.quote_name(table)
                cursor.execute(f"VACUUM (ANALYZE) {name}" if vacuum else f"ANALYZE {name}")


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def _copy(model, rows: list[dict], *, with_id: bool) -> None:
    """COPY rows into the model's table; columns a row lacks get the field's default."""
    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields if not f.primary_key}
    buffer = io.StringIO()
    for row in rows:
        buffer.write(
            "\t".join(_copy_text(row.get(f.attname, defaults.get(f.attname))) for f in fields)
        )
        buffer.write("\n")
    buffer.seek(0)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
