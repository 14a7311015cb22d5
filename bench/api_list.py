#!/usr/bin/env python3
"""Latency and throughput of GET /api/v1/requests/ (a filtered, ordered page of 50).

Seed a PostgreSQL database first, then either point the benchmark at a running server
or let it start gunicorn itself on a free loopback port (and stop it afterwards):

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/servicedesk
    export REDIS_URL=redis://127.0.0.1:6379/0   # as in production: large counts are cached
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo --requests 100000
    .venv/bin/python bench/api_list.py --spawn-workers 2            # starts gunicorn itself
    .venv/bin/python bench/api_list.py --url http://127.0.0.1:8000  # a server already running

The same queries with wrk, whose client costs less CPU than this one (see api_list.lua):

    TOKEN=$(.venv/bin/python bench/api_list.py --print-token) \
        wrk -t1 -c8 -d20s --latency -s bench/api_list.lua http://127.0.0.1:8000

Without --token, a `bench-operator` user and its API token are created in DATABASE_URL's
database. Requests are sent by one asyncio client process over keep-alive connections
(reopened when the server closes them, as gunicorn's sync workers do), `--concurrency`
at a time, for `--duration` seconds after a warm-up. Prints p50/p95/p99 latency and
requests/s, and fails (exit 1) if any answer was not a 200.

`--cold-counts` retires the cached list counts (in DATABASE_URL's settings' cache, as
`requests_changed()` does) before every request, so each one counts its matches as the
first view of a filter after a change does:

    .venv/bin/python bench/api_list.py --spawn-workers 2 --each --suite all \
        --concurrency 1 --duration 4 --cold-counts
"""

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUERIES = [
    "/api/v1/requests/?status=new,in_progress&ordering=-created_at&page_size=50",
    "/api/v1/requests/?status=in_progress&ordering=-last_message_at&page_size=50",
    "/api/v1/requests/?status=closed&ordering=-updated_at&page_size=50",
    "/api/v1/requests/?status=new&ordering=created_at&page_size=50",
]

# Every documented filter, every ordering, search in subjects, addresses and mail text
# (common words, a rare one, no match), and deep pages: `--each --suite all` times each
# of them alone, one client, for the README's table.
ALL_QUERIES = [
    "/api/v1/requests/",
    "/api/v1/requests/?status=new",
    "/api/v1/requests/?status=closed",
    "/api/v1/requests/?status=new,in_progress",
    "/api/v1/requests/?operator=none",
    "/api/v1/requests/?operator=1",
    "/api/v1/requests/?requester_email=alice.smith.x@example.com",
    "/api/v1/requests/?created_after=2026-06-01&created_before=2026-06-08",
    *(
        f"/api/v1/requests/?ordering={sign}{field}"
        for field in (
            "id",
            "created_at",
            "updated_at",
            "status",
            "subject",
            "requester_email",
            "operator",
            "last_message_at",
        )
        for sign in ("", "-")
    ),
    "/api/v1/requests/?page=1000",
    "/api/v1/requests/?ordering=subject&page=1000",
    "/api/v1/requests/?status=closed&ordering=-updated_at&page=1000",
    "/api/v1/requests/?search=printer",
    "/api/v1/requests/?search=vpn%20client",
    "/api/v1/requests/?search=screenshot",
    "/api/v1/requests/?search=asset%20sticker",
    "/api/v1/requests/?search=corp.example",
    "/api/v1/requests/?search=zzzqqqnomatch",
    "/api/v1/requests/?search=nomatchword%20printer",
    "/api/v1/requests/?status=new&search=laptop&ordering=subject",
    "/api/v1/requests/?search=laptop&ordering=subject",
    "/api/v1/requests/?status=closed&search=printer&ordering=-updated_at",
    "/api/v1/requests/?status=in_progress&search=screenshot&ordering=-last_message_at",
    "/api/v1/requests/?operator=none&search=password&ordering=requester_email",
    "/api/v1/requests/?search=printer&page=100",
    "/api/v1/requests/?search=wi-fi",
    "/api/v1/requests/?search=%22vpn%20client%22",
    # Ordered by subject, common words: the demo's subjects are a few dozen texts
    # repeated, so a word of a subject has all its matches together (the worst case of the
    # subject's order); a name in the mail (`carmen`) has them spread.
    "/api/v1/requests/?status=new&search=printer&ordering=subject",
    "/api/v1/requests/?status=new,in_progress&search=printer&ordering=-subject",
    "/api/v1/requests/?status=new,in_progress&search=laptop&ordering=subject",
    "/api/v1/requests/?operator=1&search=laptop&ordering=subject",
    "/api/v1/requests/?status=closed&search=laptop&ordering=subject",
    "/api/v1/requests/?search=printer&ordering=subject",
    "/api/v1/requests/?search=carmen&ordering=subject",
    "/api/v1/requests/?search=carmen&ordering=subject&page=50",
    "/api/v1/requests/?status=new,in_progress&search=printer&page=20",
]


def setup_django() -> None:
    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.local")
    import django

    django.setup()


def count_retirer():
    """A function that retires every cached list count, as a change to the requests does."""
    setup_django()
    from django.core.cache import cache

    from requests_app.counts import GENERATION_KEY

    def retire() -> None:
        cache.set(GENERATION_KEY, secrets.token_hex(16), timeout=None)

    return retire


def bench_token() -> str:
    """The API token of a `bench-operator` operator in DATABASE_URL's database."""
    setup_django()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from operators_app.models import Operator

    user, _ = get_user_model().objects.get_or_create(username="bench-operator")
    Operator.objects.get_or_create(user=user, defaults={"name": "Bench Operator"})
    return Token.objects.get_or_create(user=user)[0].key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_gunicorn(workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    """gunicorn with production settings (DEBUG off) on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "servicedesk.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "READ_DOT_ENV": "false",
    }
    # With DEBUG off the server refuses to start before the static files are collected.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
    )
    command = [
        str(REPO_ROOT / ".venv" / "bin" / "gunicorn"),
        "servicedesk.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--preload",
        "--log-level",
        "warning",
    ]
    if threads > 1:
        command += ["--threads", str(threads), "--worker-class", "gthread"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start listening within 30 s")


class Client:
    """One HTTP/1.1 connection that reconnects when the server closes it."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.headers = (
            f"Host: {host}:{port}\r\nAuthorization: Token {token}\r\n"
            "Accept: application/json\r\nConnection: keep-alive\r\n\r\n"
        )
        self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, int]:
        """Status and body size of one GET."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self.headers}".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        body = await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.writer.close()
            self.reader = self.writer = None
        return status, len(body)


async def run(
    base: str,
    token: str,
    queries,
    concurrency: int,
    duration: float,
    warmup: float,
    before_each=None,
):
    parts = urlsplit(base)
    host, port = parts.hostname, parts.port or 80
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    phase = {"record": False}
    stop_at = time.monotonic() + warmup + duration

    async def worker(index: int) -> None:
        client = Client(host, port, token)
        n = index
        while time.monotonic() < stop_at:
            path = queries[n % len(queries)]
            n += 1
            if before_each is not None:
                before_each()
            started = time.perf_counter()
            status, _ = await client.get(path)
            elapsed = time.perf_counter() - started
            if phase["record"]:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    async def start_recording() -> float:
        await asyncio.sleep(warmup)
        phase["record"] = True
        return time.perf_counter()

    recorder = asyncio.create_task(start_recording())
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - recorder.result()
    return latencies, statuses, elapsed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def run_each(base: str, token: str, queries: list[str], args) -> int:
    """Each query alone, `--concurrency` clients: p50/p95 and the statuses, one line each."""
    failed = False
    print(f"concurrency {args.concurrency}; {args.duration:.0f} s per query after a warm-up")
    print(f"{'p50 ms':>8} {'p95 ms':>8} {'req':>6}  query")
    before_each = count_retirer() if args.cold_counts else None
    for query in queries:
        latencies, statuses, _ = asyncio.run(
            run(base, token, [query], args.concurrency, args.duration, args.warmup, before_each)
        )
        ms = [v * 1000 for v in latencies]
        if len(ms) >= 2 and set(statuses) == {200}:
            print(f"{percentile(ms, 50):8.1f} {percentile(ms, 95):8.1f} {len(ms):6d}  {query}")
        else:
            failed = True
            print(f"{'-':>8} {'-':>8} {len(ms):6d}  {query}  statuses {statuses}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="base URL of a running server")
    parser.add_argument("--spawn-workers", type=int, help="start gunicorn with N workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--token", default=os.environ.get("BENCH_TOKEN"))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument(
        "--query", action="append", help="a path and query to GET (repeatable; default: --suite)"
    )
    parser.add_argument(
        "--suite", choices=["default", "all"], default="default", help="queries without --query"
    )
    parser.add_argument(
        "--each",
        action="store_true",
        help="time each query on its own (--duration seconds each) and print one line per query",
    )
    parser.add_argument(
        "--cold-counts",
        action="store_true",
        help="retire the cached counts before every request (each one counts afresh)",
    )
    parser.add_argument(
        "--print-token", action="store_true", help="print the bench operator's token and exit"
    )
    args = parser.parse_args()
    if args.print_token:
        print(args.token or bench_token())
        return 0
    if not os.environ.get("REDIS_URL"):
        print("note: REDIS_URL is not set, so every page counts its requests (no count cache)")
    if bool(args.url) == bool(args.spawn_workers):
        parser.error("give exactly one of --url and --spawn-workers")

    token = args.token or bench_token()
    queries = args.query or (ALL_QUERIES if args.suite == "all" else DEFAULT_QUERIES)
    process = None
    try:
        if args.spawn_workers:
            process, base = spawn_gunicorn(args.spawn_workers, args.threads)
        else:
            base = args.url.rstrip("/")
        if args.each:
            return run_each(base, token, queries, args)
        before_each = count_retirer() if args.cold_counts else None
        latencies, statuses, elapsed = asyncio.run(
            run(base, token, queries, args.concurrency, args.duration, args.warmup, before_each)
        )
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    count = len(latencies)
    ms = [v * 1000 for v in latencies]
    server = f"gunicorn, {args.spawn_workers} workers" if args.spawn_workers else base
    print(
        f"GET /api/v1/requests/ ({server}; concurrency {args.concurrency}; {len(queries)} queries)"
    )
    for query in queries:
        print(f"  {query}")
    print(f"requests: {count} in {elapsed:.1f} s   statuses: {statuses}")
    print(f"throughput: {count / elapsed:.0f} req/s")
    if count >= 2:
        print(
            f"latency ms: p50 {percentile(ms, 50):.1f}   p95 {percentile(ms, 95):.1f}   "
            f"p99 {percentile(ms, 99):.1f}   mean {statistics.fmean(ms):.1f}   max {max(ms):.1f}"
        )
    return 0 if count and set(statuses) == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
