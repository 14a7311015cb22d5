#!/usr/bin/env python3
"""Server-side render time of the operator console's queue and a 50-message conversation.

PostgreSQL only. `--seed N` first tops the requests table up to N rows with one
INSERT ... SELECT generate_series (a year of requests: 80% closed, the rest new or in
progress across 8 operators, every requester waiting or answered), plus one request with
a conversation of 50 messages, notes and events; then ANALYZE. Each page is then rendered
in this process through Django's test client (the whole middleware stack, session login,
templates; no network), `--repeat` times after a warm-up, and the wall-clock p50/p95, the
process's CPU p50 and the number of SQL queries of each page are printed. Exit 1 if a
p50 is above `--budget-ms`.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/servicedesk
    export REDIS_URL=redis://127.0.0.1:6379/0   # large counts cached, as in production
    .venv/bin/python manage.py migrate
    .venv/bin/python bench/desk_pages.py --seed 1000000
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

SEED_SQL = """
INSERT INTO requests_app_supportrequest (
    subject, requester_email, requester_name, status, operator_id, created_at, updated_at,
    taken_at, closed_at, last_message_at, message_count, last_reply_by, first_response_at
)
SELECT
    'Printer on floor ' || (g %% 40) || ' is jamming (' || g || ')',
    'bench-requester-' || g || '@example.com',
    'Requester ' || g,
    s.status,
    CASE WHEN s.status = 'new' THEN NULL ELSE %(first_operator)s + (g / 10 %% %(operators)s) END,
    t.created,
    t.created + interval '2 hours',
    CASE WHEN s.status = 'new' THEN NULL ELSE t.created + interval '1 hour' END,
    CASE WHEN s.status = 'closed' THEN t.created + interval '2 hours' END,
    t.created + interval '2 hours',
    1 + g %% 7,
    CASE WHEN g %% 3 = 0 THEN 'operator' ELSE 'requester' END,
    CASE WHEN s.status = 'new' THEN NULL ELSE t.created + interval '1 hour' END
FROM generate_series(%(start)s, %(stop)s) AS g,
LATERAL (SELECT CASE WHEN g %% 10 = 0 THEN 'new' WHEN g %% 10 = 1 THEN 'in_progress'
                     ELSE 'closed' END AS status) AS s,
LATERAL (SELECT now() - (g %% 525600) * interval '1 minute' AS created) AS t
"""


def setup_django() -> None:
    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.production")
    import django

    django.setup()


def seed(total: int) -> None:
    """Top the requests up to `total` and make one 50-message conversation."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from operators_app.models import Operator
    from requests_app.models import SupportRequest

    users = get_user_model().objects
    operators = []
    for n in range(8):
        user, _ = users.get_or_create(username=f"bench-desk-{n}")
        operator, _ = Operator.objects.get_or_create(user=user, defaults={"name": f"Bench {n}"})
        operators.append(operator)
    ids = sorted(operator.pk for operator in operators)
    assert ids == list(range(ids[0], ids[0] + 8)), "the bench operators' ids are not consecutive"
    have = SupportRequest.objects.count()
    if have < total:
        print(f"Inserting {total - have} requests ...", flush=True)
        with connection.cursor() as cursor:
            cursor.execute(
                SEED_SQL,
                {"first_operator": ids[0], "operators": 8, "start": have + 1, "stop": total},
            )
    conversation_request(operators[0])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def conversation_request(operator) -> int:
    """A request in progress with 50 messages of every kind (made once)."""
    from django.utils import timezone

    from messages_app.models import DeliveryStatus, Direction, Kind, Message
    from requests_app.events import record_event
    from requests_app.models import EventType, Party, Status, SupportRequest

    existing = SupportRequest.objects.filter(requester_email="bench-conversation@example.com")
    if existing.exists():
        return existing.get().pk
    now = timezone.now()
    support_request = SupportRequest.objects.create(
        subject="A long conversation",
        requester_email="bench-conversation@example.com",
        requester_name="Long Talker",
        status=Status.IN_PROGRESS,
        operator=operator,
        taken_at=now,
        last_message_at=now,
        message_count=50,
        last_reply_by=Party.REQUESTER,
    )
    messages = []
    for n in range(50):
        inbound = n % 2 == 0
        kind = Kind.REQUESTER if inbound else (Kind.NOTE if n % 10 == 5 else Kind.OPERATOR)
        body = f"Message {n}: the printer still jams on page {n}.\n\n> earlier text\n> more"
        messages.append(
            Message(
                request=support_request,
                direction=Direction.INBOUND
                if inbound
                else (Direction.INTERNAL if kind == Kind.NOTE else Direction.OUTBOUND),
                kind=kind,
                author_email="bench-conversation@example.com",
                operator=None if inbound else operator,
                subject="Re: A long conversation",
                body=body,
                reply=body.split("\n\n")[0] if inbound else body,
                html="<p>Message</p>" if inbound else "",
                rfc_message_id=f"<bench-{n}-{support_request.pk}@example.com>",
                delivery_status=DeliveryStatus.SENT if kind == Kind.OPERATOR else None,
                created_at=now,
            )
        )
    Message.objects.bulk_create(messages)
    for _ in range(20):
        record_event(request_id=support_request.pk, type=EventType.REPLIED, operator=operator)
    return support_request.pk


def measure(repeat: int) -> dict[str, tuple[float, float, float, int]]:
    """Per page: wall-clock p50 and p95, this process's CPU time p50 (what the page costs
    whatever else the machine runs; PostgreSQL's share is apart), and its queries."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from requests_app.models import SupportRequest

    conversation = SupportRequest.objects.get(requester_email="bench-conversation@example.com")
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-desk-0"))
    pages = {
        "queue: Mine (default)": "/desk/",
        "queue: Unassigned": "/desk/?tab=unassigned",
        "queue: All open, waiting first": "/desk/?tab=open",
        "queue: All open, page 20": "/desk/?tab=open&page=20",
        "queue: Closed": "/desk/?tab=closed",
        "conversation of 50 messages": f"/desk/requests/{conversation.pk}/",
    }
    results = {}
    for name, url in pages.items():
        for _ in range(3):
            assert client.get(url).status_code == 200, url
        timings, cpu = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        p95 = statistics.quantiles(timings, n=20)[-1] if len(timings) >= 20 else max(timings)
        results[name] = (
            statistics.median(timings),
            p95,
            statistics.median(cpu),
            len(queries.captured_queries),
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="Top the requests up to this many.")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--budget-ms", type=float, default=50.0)
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "bench-desk-" + "x1y2z3" * 10)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Production settings serve hashed static names: collect them once, under var/.
    os.environ.setdefault("STATIC_ROOT", str(REPO_ROOT / "var" / "bench-static"))
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL database.", file=sys.stderr)
        return 2
    setup_django()
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    if args.seed:
        seed(args.seed)
    from requests_app.models import SupportRequest

    print(f"{SupportRequest.objects.count():,} requests; {args.repeat} renders per page")
    over = False
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, (p50, p95, cpu, queries) in measure(args.repeat).items():
        over |= p50 > args.budget_ms
        print(
            f"{name:32} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  CPU p50 {cpu:5.1f} ms  "
            f"{queries} queries"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
