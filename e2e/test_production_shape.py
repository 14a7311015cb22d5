"""The production shape on loopback, started from the project's own deployment files.

A throwaway PostgreSQL cluster, a private Redis with append-only persistence, gunicorn,
a Celery worker and beat, each started by `docker/entrypoint.sh` with production
settings (DEBUG off, a real SECRET_KEY, JSON logs), and Debian's nginx running the
config rendered from `nginx/servicedesk.conf.template` (checked with `nginx -t` first).
Everything is then driven through nginx: the admin login (CSRF through the proxy),
Swagger UI with its static files served by nginx, a signed webhook batch near the 25 MiB
cap, metrics, `/readyz` across a PostgreSQL stop and start, and a browser session in
Debian's Chromium that takes and closes a request in the admin.

TLS is not part of the loopback setup: SECURE_SSL_REDIRECT and the secure-cookie
settings are off through the environment, exactly as an operator would switch them.
"""

import base64
import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from http.client import HTTPConnection
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from testing.browser import CHROMIUM, launch_chromium
from testing.environment import require_binaries
from testing.http import announce_body, http
from testing.mail import post_signed
from testing.processes import (
    REPO_ROOT,
    ManagedProcess,
    ProcessGroup,
    free_port,
    manage,
    nginx,
    nginx_binary,
    production_env,
    redis_server,
    run_python,
    superuser_env,
)
from testing.smtp import SMTPSink
from testing.waiting import wait_until

pytestmark = pytest.mark.e2e

SECRET = "e2e-production-webhook-secret"
ADMIN = ("ops-admin", "ops-admin-password-not-secret")
SUPPORT = "support@example.com"
ARTIFACTS = REPO_ROOT / "var" / "e2e-artifacts"
ENTRYPOINT = str(REPO_ROOT / "docker" / "entrypoint.sh")
INBOUND_CAP = 25 * 1024 * 1024


# A PostgreSQL cluster of our own: the readiness test stops it, which must never happen
# to a server that anyone else uses.
# ------------------------------------------------------------------------------
def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class ThrowawayPostgres:
    """initdb + pg_ctl in a temporary directory, on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sd-e2e-pg-"))
        self.data = self.dir / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            # initdb refuses to run as root: the cluster belongs to the postgres user.
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            _postgres_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "postgres.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres"
        )
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# The stack
# ------------------------------------------------------------------------------
@dataclass
class Stack:
    env: dict[str, str]
    base_url: str
    web_url: str
    postgres: ThrowawayPostgres
    smtp: SMTPSink
    group: ProcessGroup
    web: ManagedProcess
    worker: ManagedProcess
    beat: ManagedProcess
    nginx: ManagedProcess


def _entrypoint(role: str, env: dict, log_dir: Path, *args: str, port=None) -> ManagedProcess:
    return ManagedProcess(
        role, [ENTRYPOINT, role, *args], env, REPO_ROOT, log_dir / f"{role}.log", port
    )


def _migrate_twice_at_once(env: dict, log_dir: Path) -> list[str]:
    """Two replicas' release steps started together: the advisory lock lets one migrate."""
    runs = [
        subprocess.Popen(
            [ENTRYPOINT, "migrate"],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for run in runs:
        output, _ = run.communicate(timeout=240)
        assert run.returncode == 0, output
        outputs.append(output)
    (log_dir / "migrate.log").write_text("\n---\n".join(outputs))
    return outputs


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_binaries("redis-server")
    if nginx_binary() is None:
        require_binaries("nginx")
    if not _postgres_bin("initdb"):
        require_binaries("initdb")
    tmp = tmp_path_factory.mktemp("production-shape")
    group = ProcessGroup()
    postgres = ThrowawayPostgres()
    smtp = SMTPSink().start()
    try:
        postgres.init()
        postgres.start()
        database_url = postgres.create_database("servicedesk")
        redis = group.add(redis_server(log_dir=tmp, persistent=True))
        redis.start()
        web_port = free_port()
        static_root = tmp / "static"
        metrics_dir = tmp / "prometheus"
        env = production_env(
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url,
            REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
            EMAIL_URL=smtp.url,
            EMAIL_TIMEOUT="5",
            SUPPORT_EMAIL=SUPPORT,
            INBOUND_WEBHOOK_SECRET=SECRET,
            LANGUAGE_CODE="en-us",
            LOG_LEVEL="INFO",
            LOG_FORMAT="json",
            STATIC_ROOT=str(static_root),
            GUNICORN_BIND=f"127.0.0.1:{web_port}",
            WEB_CONCURRENCY="2",
            FORWARDED_ALLOW_IPS="127.0.0.1",
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            CELERY_WORKER_CONCURRENCY="1",
            CELERY_BEAT_SCHEDULE_FILE=str(tmp / "celerybeat-schedule"),
            OUTBOUND_REDRIVE_SECONDS="2",
            DB_WAIT_TIMEOUT="60",
            AUTO_REPLY_LIMIT_PER_HOUR="1000",
            **superuser_env(*ADMIN),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # Every process with PROMETHEUS_MULTIPROC_DIR writes its metrics there, manage.py
        # commands too (the entrypoint makes it for the roles it starts).
        metrics_dir.mkdir(exist_ok=True)
        manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
        outputs = _migrate_twice_at_once(env, tmp)
        # One of them applied every migration; the other waited on the lock, found none.
        assert sorted("No migrations to apply" in output for output in outputs) == [False, True]
        assert sum("Applying contenttypes.0001_initial" in output for output in outputs) == 1
        manage("bootstrap_admin", env=env)

        web = group.add(_entrypoint("web", env, tmp, port=web_port))
        web.start(timeout=90)
        # The default node name, celery@<host>, as in a container: the health check pings it.
        worker = group.add(_entrypoint("worker", env, tmp))
        worker.start(ready=lambda: " ready." in worker.log_text(), timeout=90)
        beat = group.add(_entrypoint("beat", env, tmp))
        beat.start(ready=lambda: "beat: Starting" in beat.log_text(), timeout=90)
        proxy = group.add(nginx(tmp, upstream_port=web_port, static_root=static_root))
        proxy.start(timeout=30)

        yield Stack(
            env=env,
            base_url=f"http://127.0.0.1:{proxy.port}",
            web_url=f"http://127.0.0.1:{web_port}",
            postgres=postgres,
            smtp=smtp,
            group=group,
            web=web,
            worker=worker,
            beat=beat,
            nginx=proxy,
        )
    finally:
        group.stop_all()
        smtp.stop()
        postgres.destroy()


@pytest.fixture(autouse=True)
def processes(stack):
    """The module's processes: e2e/conftest.py shows their logs when a test fails."""
    return stack.group


# Helpers
# ------------------------------------------------------------------------------
class Browser:
    """A cookie-keeping HTTP client, like a browser without JavaScript."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect()
        )

    def request(self, method, path, *, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(  # noqa: S310
            self.base_url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def mail_with_attachment(index: int, sender: str, attachment_size: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Big Sender {index} <{sender}>"
    mail["To"] = SUPPORT
    mail["Subject"] = f"Scanned documents, part {index}"
    mail["Message-ID"] = f"<big-{index}-{uuid.uuid4().hex}@mail.example.org>"
    mail.set_content(f"Hello, the scans of batch {index} are attached.\n")
    mail.add_attachment(
        os.urandom(attachment_size),
        maintype="application",
        subtype="pdf",
        filename=f"scan-{index}.pdf",
    )
    return mail.as_bytes()


def batch_near_cap(sender: str, items: int = 10) -> bytes:
    """A JSON batch of raw mails with attachments, just under the 25 MiB cap."""
    # JSON body ~ 4/3 (raw base64) x 4/3 (attachment base64) of the attachment bytes.
    attachment_size = int(INBOUND_CAP * 0.97 * 9 / 16 / items)
    messages = [
        {
            "raw": base64.b64encode(mail_with_attachment(i, sender, attachment_size)).decode(),
            "id": f"big-{uuid.uuid4().hex}",
        }
        for i in range(items)
    ]
    return json.dumps({"messages": messages}).encode()


def small_mail_item(sender: str, subject: str) -> dict:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = SUPPORT
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example.org>"
    mail.set_content("The printer on floor 3 jams on every page.\n")
    return {"raw": base64.b64encode(mail.as_bytes()).decode(), "id": uuid.uuid4().hex}


def scrape(url: str) -> str:
    response = http("GET", f"{url}/metrics")
    assert response.status == 200, response.body
    return response.body.decode()


def metric_value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# Tests: in file order, /readyz across a PostgreSQL stop last.
# ------------------------------------------------------------------------------
def test_nginx_answers_for_the_app_with_request_ids_and_security_headers(stack):
    response = http("GET", f"{stack.base_url}/healthz")
    chosen = http("GET", f"{stack.base_url}/healthz", headers={"X-Request-ID": "ops-trace-0001"})
    forged = http("GET", f"{stack.base_url}/healthz", headers={"X-Request-ID": "bad id"})

    assert response.status == 200
    assert response.json() == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert chosen.headers["X-Request-ID"] == "ops-trace-0001"
    assert forged.headers["X-Request-ID"] != "bad id"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Permissions-Policy" in response.headers
    assert response.headers["Server"] == "nginx"
    # The request id nginx passed on is the one gunicorn logged the request with.
    wait_until(lambda: '"request_id": "ops-trace-0001"' in stack.web.log_text(), timeout=10)


def test_the_admin_login_works_through_the_proxy(stack):
    browser = Browser(stack.base_url)
    status, page, _ = browser.request("GET", "/admin/login/?next=/admin/")
    assert status == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    status, _, headers = browser.request(
        "POST",
        "/admin/login/?next=/admin/",
        form={
            "csrfmiddlewaretoken": token,
            "username": ADMIN[0],
            "password": ADMIN[1],
            "next": "/admin/",
        },
        headers={
            "Origin": stack.base_url,
            "Referer": f"{stack.base_url}/admin/login/",
            # nginx overwrites this with its own $scheme; believed, it would fail CSRF.
            "X-Forwarded-Proto": "https",
        },
    )

    assert status == 302, headers
    assert headers["Location"] == "/admin/"
    status, page, _ = browser.request("GET", "/admin/")
    assert status == 200
    assert "Site administration" in page


def _admin_login_over_https_claim(web_url: str, source: str) -> int:
    """Log into the admin straight at gunicorn from `source`, claiming HTTPS; the status."""
    host = urllib.parse.urlsplit(web_url).netloc
    hostname, port = host.split(":")

    def send(method, path, body=None, headers=None):
        connection = HTTPConnection(hostname, int(port), timeout=30, source_address=(source, 0))
        try:
            connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read().decode(), response.getheader("Set-Cookie")
        finally:
            connection.close()

    _, page, cookie = send("GET", "/admin/login/")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", cookie).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token, "username": ADMIN[0], "password": ADMIN[1]}
    status, _, _ = send(
        "POST",
        "/admin/login/?next=/admin/",
        body=urllib.parse.urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
            "X-Forwarded-Proto": "https",
            "Origin": f"https://{host}",
            "Referer": f"https://{host}/admin/login/",
        },
    )
    return status


def test_only_the_proxy_may_say_a_request_came_over_https(stack):
    # gunicorn trusts X-Forwarded-Proto from FORWARDED_ALLOW_IPS (127.0.0.1, where nginx
    # connects from) only. Believed, the HTTPS origin matches and the login succeeds;
    # ignored, the request is plain HTTP and the HTTPS origin fails the CSRF check.
    assert _admin_login_over_https_claim(stack.web_url, "127.0.0.1") == 302
    assert _admin_login_over_https_claim(stack.web_url, "127.0.0.2") == 403


def test_swagger_ui_and_its_static_files_come_through_nginx(stack):
    page = http("GET", f"{stack.base_url}/api/docs/")
    assert page.status == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.body.decode())
    assert any("swagger-ui-bundle" in asset for asset in assets), assets

    for asset in assets:
        response = http("GET", stack.base_url + asset, headers={"Accept-Encoding": "gzip"})
        assert response.status == 200, asset
        # nginx's `expires 365d` (whitenoise would say max-age=315360000, public, immutable).
        assert response.headers["Cache-Control"] == "max-age=31536000", asset
        if asset.endswith(".js"):
            assert response.headers.get("Content-Encoding") == "gzip", asset
    schema = http("GET", f"{stack.base_url}/api/schema/?format=json")
    assert schema.status == 200
    assert schema.json()["info"]["title"] == "servicedesk API"


def test_bodies_are_small_everywhere_but_the_webhook(stack):
    elsewhere, _, _ = announce_body(stack.base_url, "/api/v1/auth/token/", 2 * 1024 * 1024)
    webhook_over, _, _ = announce_body(stack.base_url, "/api/v1/inbound/emails/", 50 << 20)

    assert elsewhere == 413
    assert webhook_over == 413


def test_a_signed_batch_near_the_size_cap_goes_through(stack):
    sender = "big.sender@example.org"
    body = batch_near_cap(sender)
    assert INBOUND_CAP * 0.9 < len(body) < INBOUND_CAP

    response = post_signed(
        stack.base_url,
        body,
        secret=SECRET,
        headers={"X-Request-ID": "ops-bigbatch-0001"},
        timeout=120,
    )

    assert response.status == 200, response.body[:2000]
    summary = response.json()["summary"]
    assert summary["created"] == 1
    assert summary["appended"] == 9
    assert summary["rejected"] == 0
    # The acknowledgement is sent by the worker, which logs the webhook's request id.
    stack.smtp.wait_for(lambda mail: mail["To"] == sender, timeout=60)
    wait_until(
        lambda: "ops-bigbatch-0001" in stack.worker.log_text(), timeout=30, message="task log"
    )
    # Mail addresses stay out of the INFO logs of every process.
    for process in (stack.web, stack.worker):
        assert sender not in process.log_text()


def test_metrics_count_every_worker_and_stay_off_the_public_side(stack):
    before = scrape(stack.web_url)
    for _ in range(6):
        assert http("GET", f"{stack.base_url}/healthz").status == 200

    after = scrape(stack.web_url)

    assert http("GET", f"{stack.base_url}/metrics").status == 404
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    counted = metric_value(after, "servicedesk_http_requests_total", **labels)
    assert counted - metric_value(before, "servicedesk_http_requests_total", **labels) == 6
    assert metric_value(after, "servicedesk_inbound_messages_total", outcome="appended") >= 9
    assert metric_value(after, "servicedesk_outbound_messages", status="sent") >= 1
    assert "servicedesk_outbox_backlog" in after


def test_beat_schedules_the_outbox_redrive_and_the_worker_runs_it(stack):
    wait_until(
        lambda: "Sending due task redrive-outbox" in stack.beat.log_text(),
        timeout=30,
        message="beat to send the re-drive",
    )
    wait_until(
        lambda: re.search(
            r"Task messages_app\.tasks\.redrive_outbox_task\[[0-9a-f-]+\] succeeded",
            stack.worker.log_text(),
        ),
        timeout=30,
        message="the worker to run the re-drive",
    )


@pytest.mark.parametrize("role", ["web", "worker", "beat"])
def test_the_container_health_checks_pass_for_every_role(stack, role):
    result = run_python(str(REPO_ROOT / "docker" / "healthcheck.py"), role, env=stack.env)

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_operator_takes_and_closes_a_request_in_the_admin_and_opens_swagger_ui(stack):
    require_binaries(CHROMIUM)
    from playwright.sync_api import expect, sync_playwright

    requester = "printer.user@example.org"
    subject = f"Printer jams {uuid.uuid4().hex[:6]}"
    body = json.dumps({"messages": [small_mail_item(requester, subject)]}).encode()
    created = post_signed(stack.base_url, body, secret=SECRET).json()["results"][0]
    assert created["outcome"] == "created", created
    request_id = created["request_id"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{stack.base_url}/admin/login/?next=/admin/")
            page.fill("#id_username", ADMIN[0])
            page.fill("#id_password", ADMIN[1])
            page.click("input[type=submit]")
            expect(page.locator("#site-name")).to_contain_text("Service desk administration")
            page.screenshot(path=ARTIFACTS / "admin-home.png")

            changelist = f"{stack.base_url}/admin/requests_app/supportrequest/"
            for action, message in (("take_selected", "Took 1"), ("close_selected", "Closed 1")):
                page.goto(changelist)
                page.check(f"input[name=_selected_action][value='{request_id}']")
                page.select_option("select[name=action]", action)
                page.click("button[name=index]")
                expect(page.locator(".messagelist")).to_contain_text(message)
                page.screenshot(path=ARTIFACTS / f"admin-{action}.png")

            page.goto(f"{changelist}{request_id}/change/")
            expect(page.locator(".field-status")).to_contain_text("closed", ignore_case=True)

            page.goto(f"{stack.base_url}/api/docs/")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text(
                "servicedesk API", timeout=30_000
            )
            expect(page.locator(".opblock").first).to_be_visible()
            page.screenshot(path=ARTIFACTS / "swagger-ui.png", full_page=True)
        finally:
            chromium.close()

    # The worker mailed the requester both notices.
    for notice in ("Your request is in progress", "Your request is closed"):
        stack.smtp.wait_for(
            lambda mail, notice=notice: mail["To"] == requester and notice in mail["Subject"],
            timeout=60,
        )


def test_readyz_follows_postgresql_going_away_and_coming_back(stack):
    ready = http("GET", f"{stack.base_url}/readyz")
    assert ready.status == 200, ready.body
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "smtp": "ok"}

    stack.postgres.stop()
    try:
        down = http("GET", f"{stack.base_url}/readyz")
        alive = http("GET", f"{stack.base_url}/healthz")
    finally:
        stack.postgres.start()

    assert down.status == 503, down.body
    assert down.json()["failed"] == ["database"]
    assert alive.status == 200
    back = wait_until(
        lambda: (r := http("GET", f"{stack.base_url}/readyz")).status == 200 and r,
        timeout=30,
        interval=0.5,
        message="/readyz 200 again",
    )
    assert back.json()["status"] == "ok"
