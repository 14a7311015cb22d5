"""Helpers for system tests that run the service as real processes on loopback.

Every helper is generic: it takes an environment dict, a working directory and a
directory for log files, picks free ports at runtime and tears down the whole process
group it started. Used by the outbound-mail test and the production-shape test
(gunicorn behind nginx with a Celery worker and beat).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


# Ports and waiting
# ------------------------------------------------------------------------------
def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float = 30,
    interval: float = 0.1,
    message: str = "condition",
) -> Any:
    """Poll `predicate` until it returns something truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def wait_for_port(port: int, host: str = LOOPBACK, *, timeout: float = 30) -> None:
    """Block until host:port accepts connections."""
    wait_until(lambda: port_is_open(port, host), timeout=timeout, message=f"{host}:{port}")


def wait_for_port_closed(port: int, host: str = LOOPBACK, *, timeout: float = 15) -> None:
    """Block until nothing accepts connections on host:port any more."""
    wait_until(lambda: not port_is_open(port, host), timeout=timeout, message=f"{port} closed")


# Processes
# ------------------------------------------------------------------------------
@dataclass
class ManagedProcess:
    """A child process in its own process group, with its output in a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, *, ready: Callable[[], Any] | None = None, timeout: float = 30) -> None:
        """Start the process (again) and wait for its port or `ready` predicate."""
        if self.is_running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"\n--- start {' '.join(self.args)}\n".encode())
        log.flush()
        self.popen = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: stop() reaches gunicorn's and celery's children too.
            start_new_session=True,
        )
        log.close()
        check = ready or ((lambda: port_is_open(self.port)) if self.port else None)
        if check is None:
            return

        def started() -> bool:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            return bool(check())

        try:
            wait_until(started, timeout=timeout, interval=0.1, message=f"{self.name} to start")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tail()}") from None

    @property
    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, *, timeout: float = 15, sig: int = signal.SIGTERM) -> None:
        """Signal the whole process group, wait, and kill what is left."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        # Children that outlived the leader (e.g. forked workers) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self.port:
            with contextlib.suppress(TimeoutError):
                wait_for_port_closed(self.port)

    def restart(self, **kwargs: Any) -> None:
        self.stop()
        self.start(**kwargs)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return f"--- {self.name} log ({self.log_path}):\n" + "\n".join(
            self.log_text().splitlines()[-lines:]
        )


class ProcessGroup:
    """Processes started for one test, stopped in reverse order by `stop_all`."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop()

    def logs(self) -> str:
        return "\n".join(process.log_tail() for process in self.processes)


def service_env(base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """An environment for the service's processes: this one's, without a `.env`, plus overrides."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            # Development unless the caller asks for production.
            "DJANGO_SETTINGS_MODULE": "servicedesk.settings.local",
            "READ_DOT_ENV": "false",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def manage(*args: str, env: Mapping[str, str], cwd: Path = REPO_ROOT, timeout: float = 180) -> str:
    """Run `manage.py <args>` to completion and return its output; raise on failure."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def gunicorn(
    *,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = REPO_ROOT,
    port: int | None = None,
    host: str = LOOPBACK,
    workers: int = 2,
    extra_args: tuple[str, ...] = (),
) -> ManagedProcess:
    """A gunicorn process serving the WSGI app (not started yet)."""
    port = port or free_port(host)
    args = [
        str(VENV_BIN / "gunicorn"),
        "servicedesk.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        *extra_args,
    ]
    return ManagedProcess("gunicorn", args, dict(env), cwd, log_dir / "gunicorn.log", port)


def celery_command(subcommand: str, *args: str) -> list[str]:
    """`celery -A servicedesk <subcommand> --loglevel INFO <args>` from this virtualenv."""
    return [str(VENV_BIN / "celery"), "-A", "servicedesk", subcommand, "--loglevel", "INFO", *args]


def celery_worker(
    *,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = REPO_ROOT,
    concurrency: int = 1,
    name: str = "worker",
    extra_args: tuple[str, ...] = (),
) -> ManagedProcess:
    """A `celery -A servicedesk worker` process (not started yet); ready once it logs 'ready'."""
    args = celery_command(
        "worker",
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "--hostname",
        f"{name}-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        *extra_args,
    )
    return ManagedProcess(name, args, dict(env), cwd, log_dir / f"{name}.log")


def start_celery_worker(process: ManagedProcess, *, timeout: float = 60) -> None:
    """Start a worker made by `celery_worker` and wait until it consumes."""
    process.start(ready=lambda: " ready." in process.log_text(), timeout=timeout)


def celery_beat(
    *,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = REPO_ROOT,
    extra_args: tuple[str, ...] = (),
) -> ManagedProcess:
    """A `celery -A servicedesk beat` process with its schedule file under `log_dir`."""
    args = celery_command(
        "beat",
        "--schedule",
        str(log_dir / "celerybeat-schedule"),
        "--pidfile",
        str(log_dir / "celerybeat.pid"),
        *extra_args,
    )
    return ManagedProcess("beat", args, dict(env), cwd, log_dir / "beat.log")


def redis_server(
    *, log_dir: Path, port: int | None = None, persistent: bool = False
) -> ManagedProcess:
    """A private redis-server on a free loopback port (not started yet); data under `log_dir`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    data_dir = log_dir / f"redis-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        binary,
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        "--daemonize",
        "no",
    ]
    return ManagedProcess(
        f"redis-{port}", args, os.environ.copy(), data_dir, log_dir / "redis.log", port
    )


# SMTP
# ------------------------------------------------------------------------------
class RecordingHandler:
    """aiosmtpd handler that keeps every accepted mail; `reply_code` forces an answer."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        # e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user"; None accepts.
        self.data_reply: str | None = None
        self.rcpt_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or envelope.content
        parsed = message_from_bytes(content, policy=default_policy)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPSink:
    """An aiosmtpd server in a thread on a fixed loopback port that can stop and start again."""

    def __init__(self, *, port: int | None = None, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.handler = RecordingHandler()
        self.controller: Controller | None = None

    def start(self) -> SMTPSink:
        if self.controller is None:
            # A stopped controller's event loop is closed: each start needs a new one.
            self.controller = Controller(self.handler, hostname=self.host, port=self.port)
            self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def find(self, predicate: Callable[[EmailMessage], bool]) -> list[EmailMessage]:
        return [message for message in self.messages if predicate(message)]

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], *, count: int = 1, timeout: float = 30
    ) -> list[EmailMessage]:
        """Wait until at least `count` received mails match `predicate`; return them."""
        return wait_until(
            lambda: (found := self.find(predicate)) and len(found) >= count and found,
            timeout=timeout,
            message="mail at the SMTP server",
        )

    def __enter__(self) -> SMTPSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Databases
# ------------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_database(database_url: str | None, *, tmp_dir: Path) -> Iterator[str]:
    """A new empty database for the service: a PostgreSQL database beside `database_url`'s
    (dropped afterwards) when it is a postgres URL, otherwise a SQLite file in `tmp_dir`."""
    if not database_url or not database_url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_dir / 'e2e.sqlite3'}"
        return
    import psycopg2
    from psycopg2 import sql

    base, _, _ = database_url.rpartition("/")
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    admin_url = f"{base}/postgres"

    def run(statement: sql.Composable) -> None:
        connection = psycopg2.connect(admin_url)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{base}/{name}"
    finally:
        run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# HTTP
# ------------------------------------------------------------------------------
@dataclass
class HTTPResponse:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> HTTPResponse:
    """One HTTP request with urllib; 4xx and 5xx are returned, not raised."""
    all_headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HTTPResponse(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return HTTPResponse(error.code, error.read(), dict(error.headers))


# The inbound webhook's signature (API.md)
# ------------------------------------------------------------------------------
def sign_webhook(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers for `POST /api/v1/inbound/emails/`: HMAC-SHA256 over `<timestamp>.<body>`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Servicedesk-Timestamp": str(timestamp),
        "X-Servicedesk-Signature": f"sha256={digest.hexdigest()}",
    }


def post_webhook(
    base_url: str, items: list[dict[str, Any]], *, secret: str, timeout: float = 30
) -> HTTPResponse:
    """Post a signed batch of inbound mail items to the service's webhook."""
    body = json.dumps({"messages": items}).encode()
    return http(
        "POST",
        f"{base_url}/api/v1/inbound/emails/",
        data=body,
        headers=sign_webhook(body, secret),
        timeout=timeout,
    )


def raw_item(raw_message: bytes, *, provider_id: str | None = None) -> dict[str, Any]:
    """A webhook item of the raw form: the whole RFC 822 message in base64."""
    item: dict[str, Any] = {"raw": base64.b64encode(raw_message).decode()}
    if provider_id is not None:
        item["id"] = provider_id
    return item


# S3
# ------------------------------------------------------------------------------
def moto_server(*, log_dir: Path, port: int | None = None) -> ManagedProcess:
    """A real S3 server (moto's) on a free loopback port (not started yet)."""
    port = port or free_port()
    args = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(log_dir)}
    return ManagedProcess("moto", args, env, log_dir, log_dir / "moto.log", port)


def s3_client(endpoint_url: str):
    """A boto3 client of a test S3 server (any credentials do)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# Browser
# ------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"


def launch_chromium(playwright):
    """Debian's Chromium, headless, with nothing that reaches outside the machine."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
