#!/usr/bin/env python3
"""Ingestion throughput of the inbound webhook: new mail, then the same mail again.

Posts N signed raw-form items (default 2,000 from 200 senders, batches of 50, senders
interleaved as in a real inbox) to a running server, checks the resulting state, posts
everything again, checks that nothing changed, and prints emails/s for both passes.

    INBOUND_WEBHOOK_SECRET=... DATABASE_URL=postgres://... \\
        python bench/ingest.py http://127.0.0.1:8000

`--form field` posts the same mail in the field form (`user_email`, `title`,
`description`, thread headers) instead of raw. With the URL `in-process` the webhook runs
inside this process (Django's test client, on DATABASE_URL's database, migrated) and
the CPU time of the process per mail is printed as well, for the whole webhook call and
for the item validation alone:

    DATABASE_URL=sqlite:////tmp/ingest.sqlite3 python bench/ingest.py in-process --form field

The first request of a process pays once for what a long-lived worker has done long ago
(importing the URLconf's modules, connecting to the broker, loading templates): about
200 ms, 200 µs per mail of a 1,000-mail run. `--warm-up N` first posts N other mails
(not counted, not checked), so that the figures are those of a warm worker.

The state is checked in the database when DATABASE_URL (or --database-url) is given
(psycopg2), otherwise from the webhook's answers alone. Every run uses fresh senders
and ids, so runs can be repeated against the same database. Standard library only,
plus psycopg2 for the database check.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

WEBHOOK_PATH = "/api/v1/inbound/emails/"
SUBJECTS = [
    "Printer on the third floor jams",
    "VPN drops every ten minutes",
    "Нет доступа к общей папке",
    "Badge does not open the garage",
    "Calendar shows meetings twice",
]
BODY = (
    "Hello,\n\n{problem}. It started this morning after the update and happens on every "
    "attempt. I tried restarting twice.\n\nThanks,\n{name}\n"
)
QUOTE = "\n\nOn Mon, 16 Nov 2026 at 10:15, Service Desk <support@example.com> wrote:\n> {q}\n"


def build_items(*, run: str, count: int, senders: int, seed: int, form: str = "raw") -> list[dict]:
    """`count` items from `senders` senders in a shuffled (interleaved) order, in the raw or
    the field form."""
    rng = random.Random(seed)
    order = [n % senders for n in range(count)]
    rng.shuffle(order)
    seen: dict[int, str] = {}
    items = []
    for n, sender in enumerate(order):
        mail = EmailMessage()
        name = f"Bench User {sender}"
        mail["From"] = f"{name} <bench-{run}-{sender}@example.com>"
        mail["To"] = "Service Desk <support@example.com>"
        subject = SUBJECTS[sender % len(SUBJECTS)]
        mail["Subject"] = f"Re: {subject}" if sender in seen else subject
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = f"<bench-{run}-{n}@mail.example.com>"
        if sender in seen:
            mail["In-Reply-To"] = seen[sender]
            mail["References"] = seen[sender]
        body = BODY.format(problem=subject, name=name)
        if sender in seen:
            body += QUOTE.format(q=subject)
        mail.set_content(body)
        item_id = f"bench-{run}-{n:06d}"
        if form == "field":
            item = {
                "id": item_id,
                "user_email": mail["From"],
                "title": mail["Subject"],
                "description": body,
                "message_id": mail["Message-ID"],
                "date": mail["Date"],
                "headers": {"To": mail["To"]},
            }
            if sender in seen:
                item["in_reply_to"] = item["references"] = seen[sender]
            items.append(item)
        else:
            items.append({"id": item_id, "raw": base64.b64encode(bytes(mail)).decode("ascii")})
        seen[sender] = mail["Message-ID"]
    return items


def sign(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Servicedesk-Timestamp": timestamp,
        "X-Servicedesk-Signature": f"sha256={digest.hexdigest()}",
    }


class Poster:
    """Posts batches over one keep-alive connection per thread."""

    def __init__(self, url: str, secret: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = parts.path if parts.path.endswith("/inbound/emails/") else WEBHOOK_PATH
        self.secret = secret
        self.local = threading.local()

    def post(self, body: bytes) -> tuple[dict, float]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                self.host, self.port, timeout=300
            )
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                connection.request("POST", self.path, body=body, headers=sign(self.secret, body))
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if attempt == 2:
                    raise
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {data[:500]!r}")
        return json.loads(data), elapsed


class InProcessPoster:
    """Calls the webhook inside this process through Django's test client."""

    def __init__(self, secret: str):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.local")
        import django

        django.setup()
        from django.conf import settings
        from django.test import Client

        settings.INBOUND_WEBHOOK_SECRET = secret
        settings.ALLOWED_HOSTS = ["*"]
        self.client = Client()
        self.secret = secret

    def post(self, body: bytes) -> tuple[dict, float]:
        headers = sign(self.secret, body)
        started = time.perf_counter()
        response = self.client.post(
            WEBHOOK_PATH,
            body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.content[:300]!r}")
        return response.json(), elapsed


def validation_cpu_per_mail(bodies: list[bytes], count: int, repeat: int = 5) -> float:
    """CPU seconds per mail of the webhook's item validation alone (best of `repeat`)."""
    from messages_app.inbound.items import batch_items

    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for body in bodies:
            batch_items(body)
        best = min(best, time.process_time() - started)
    return best / count


def run_pass(poster: Poster, bodies: list[bytes], concurrency: int):
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(poster.post, bodies))
    return answers, time.perf_counter() - started


def results_of(answers) -> list[dict]:
    return [result for answer, _ in answers for result in answer["results"]]


def summary_of(answers) -> dict[str, int]:
    total: dict[str, int] = {}
    for answer, _ in answers:
        for outcome, count in answer["summary"].items():
            total[outcome] = total.get(outcome, 0) + count
    return total


def latency(answers) -> str:
    times = sorted(elapsed * 1000 for _, elapsed in answers)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return f"batch latency p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms"


def database_state(database_url: str, run: str) -> dict:
    """Rows of this run: messages, requests and their counters."""
    import psycopg2

    pattern = f"bench-{run}-%"
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT external_id), count(DISTINCT request_id),"
            " coalesce(max(id), 0) FROM messages_app_message"
            " WHERE external_id LIKE %s AND direction = 'inbound'",
            [pattern],
        )
        messages, distinct_ids, requests_with_mail, max_message = cursor.fetchone()
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'closed'),"
            " coalesce(sum(message_count), 0), max(updated_at)"
            " FROM requests_app_supportrequest WHERE requester_email LIKE %s",
            [pattern],
        )
        requests, open_requests, counted, updated = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM messages_app_message m"
            " JOIN requests_app_supportrequest r ON r.id = m.request_id"
            " WHERE r.requester_email LIKE %s",
            [pattern],
        )
        (all_messages,) = cursor.fetchone()
    return {
        "messages": messages,
        "distinct_ids": distinct_ids,
        "requests_with_mail": requests_with_mail,
        "max_message_id": max_message,
        "requests": requests,
        "open_requests": open_requests,
        "message_count_sum": counted,
        "all_messages": all_messages,
        "last_update": str(updated),
    }


def check(condition: bool, what: str) -> None:
    print(f"  {'ok ' if condition else 'FAIL'} {what}")
    if not condition:
        check.failed = True


check.failed = False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="server base URL, e.g. http://127.0.0.1:8000, or `in-process`")
    parser.add_argument("--form", choices=["raw", "field"], default="raw", help="item form")
    parser.add_argument("--secret", default=os.environ.get("INBOUND_WEBHOOK_SECRET", ""))
    parser.add_argument("--count", type=int, default=2000, help="emails to post (2000)")
    parser.add_argument("--senders", type=int, default=200, help="distinct senders (200)")
    parser.add_argument("--batch", type=int, default=50, help="items per request (50)")
    parser.add_argument("--concurrency", type=int, default=4, help="parallel requests (4)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--warm-up", type=int, default=0, help="other mails to post first, not counted (0)"
    )
    args = parser.parse_args()
    if not args.secret:
        parser.error("give --secret or set INBOUND_WEBHOOK_SECRET")

    run = uuid.uuid4().hex[:10]
    items = build_items(
        run=run, count=args.count, senders=args.senders, seed=args.seed, form=args.form
    )
    bodies = [
        json.dumps({"messages": items[i : i + args.batch]}).encode()
        for i in range(0, len(items), args.batch)
    ]
    in_process = args.url == "in-process"
    if in_process:
        poster = InProcessPoster(args.secret)
        args.concurrency = 1
    else:
        poster = Poster(args.url, args.secret)
    size = sum(map(len, bodies)) / len(items)
    print(
        f"run {run}: {len(items)} {args.form}-form emails from {args.senders} senders, "
        f"{len(bodies)} batches of {args.batch}, {args.concurrency} in parallel, "
        f"{size:.0f} bytes per item"
    )

    if args.warm_up:
        warm_items = build_items(
            run=f"{run}w",
            count=args.warm_up,
            senders=max(1, args.warm_up // 10),
            seed=args.seed + 1,
            form=args.form,
        )
        run_pass(
            poster,
            [
                json.dumps({"messages": warm_items[i : i + args.batch]}).encode()
                for i in range(0, len(warm_items), args.batch)
            ],
            args.concurrency,
        )
        print(f"warmed up with {len(warm_items)} other emails")

    cpu_started = time.process_time()
    first, first_time = run_pass(poster, bodies, args.concurrency)
    if in_process:
        cpu = (time.process_time() - cpu_started) / len(items)
        validation = validation_cpu_per_mail(bodies, len(items))
        print(
            f"CPU per mail, webhook call (pass 1): {cpu * 1e6:8.0f} µs; "
            f"item validation alone: {validation * 1e6:6.1f} µs"
        )
    first_summary = summary_of(first)
    first_results = results_of(first)
    print(
        f"pass 1 (new):       {len(items) / first_time:8.0f} emails/s "
        f"({first_time:.2f} s; {latency(first)}) {first_summary}"
    )
    check(first_summary.get("created") == args.senders, f"{args.senders} requests created")
    check(
        first_summary.get("appended") == len(items) - args.senders,
        f"{len(items) - args.senders} messages appended",
    )
    check(
        len({r["message_id"] for r in first_results}) == len(items),
        "every item has its own message",
    )
    check(
        len({r["request_id"] for r in first_results}) == args.senders,
        "one request per sender",
    )
    checked = args.database_url.startswith(("postgres://", "postgresql://"))
    before = database_state(args.database_url, run) if checked else None
    if before:
        check(before["messages"] == len(items), f"{len(items)} messages in the database")
        check(before["distinct_ids"] == len(items), "each id stored once")
        check(before["open_requests"] == args.senders, f"{args.senders} open requests")
        check(
            before["message_count_sum"] == before["all_messages"],
            "request counters match the stored messages (acknowledgements included)",
        )

    cpu_started = time.process_time()
    second, second_time = run_pass(poster, bodies, args.concurrency)
    if in_process:
        cpu = (time.process_time() - cpu_started) / len(items)
        print(f"CPU per mail, webhook call (pass 2, duplicates): {cpu * 1e6:8.0f} µs")
    second_summary = summary_of(second)
    print(
        f"pass 2 (duplicate): {len(items) / second_time:8.0f} emails/s "
        f"({second_time:.2f} s; {latency(second)}) {second_summary}"
    )
    check(second_summary.get("duplicate") == len(items), "every item answered duplicate")
    check(
        [(r["request_id"], r["message_id"]) for r in results_of(second)]
        == [(r["request_id"], r["message_id"]) for r in first_results],
        "duplicates name the original request and message",
    )
    if before:
        check(database_state(args.database_url, run) == before, "the database did not change")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
