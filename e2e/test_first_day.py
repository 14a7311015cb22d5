"""First day: a fresh clone, `cp .env.sample .env`, and everything the README and the
deployment guide say to run works as written.

- the quick start (`make run`) serves, and the 60-second tour after it (a signed test mail,
  a token from a form post, a reply, the reply as an `.eml` file in var/mail/) works;
- `make test` passes with a `.env` whose values would break every test that read it;
- web (gunicorn with the project's config), worker and beat start through the entrypoint
  with the sample's values exported as docker compose's `env_file` exports them (empty
  ones included) and answer: `/healthz`, `celery inspect ping`, the beat health check.

The clone shares this checkout's virtualenv (a symlink), so nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from testing.databases import fresh_database
from testing.environment import require_binaries
from testing.http import http
from testing.processes import REPO_ROOT, ManagedProcess, free_port
from testing.waiting import wait_until

pytestmark = pytest.mark.e2e

VENV = Path(sys.prefix)
KEY = "k3Q9v-p2X8mZr7LwT1yN4bC6dF0gH5jK8qS2uV9xA3eR7tY1iO4pL6zM0nB8cD2f"
ADMIN_PASSWORD = "a-long-local-password"


def _base_env(**extra: str) -> dict[str, str]:
    """A newcomer's shell: PATH and HOME, nothing of this test run's settings."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 120):
    """Run a command to completion, its output captured; the caller checks the outcome."""
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _sample_values(clone: Path) -> dict[str, str]:
    """The env file's variables as compose's `env_file` passes them: every `KEY=VALUE` line,
    empty values included."""
    text = (clone / ".env").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A fresh clone of this checkout's HEAD, sharing its virtualenv, with `.env` copied
    from `.env.sample`."""
    require_binaries("git", "make")
    target = tmp_path_factory.mktemp("first-day") / "servicedesk"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", str(REPO_ROOT), str(target)], check=True
    )
    subprocess.run(["git", "checkout", "--quiet", head], cwd=target, check=True)
    (target / ".venv").symlink_to(VENV, target_is_directory=True)
    shutil.copyfile(target / ".env.sample", target / ".env")
    return target


def test_the_quick_start_and_the_tour_work_as_written(clone, processes, tmp_path):
    shutil.copyfile(clone / ".env.sample", clone / ".env")
    # The tour's first step, as the README writes it.
    secret = uuid.uuid4().hex * 2
    with (clone / ".env").open("a") as env_file:
        env_file.write(
            f"INBOUND_WEBHOOK_SECRET={secret}\n"
            "DJANGO_SUPERUSER_USERNAME=admin\n"
            f"DJANGO_SUPERUSER_PASSWORD={ADMIN_PASSWORD}\n"
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # `make run`, on a free port instead of 8000 (other servers may run on this machine).
    server = processes.add(
        ManagedProcess(
            "make-run",
            ["make", "run"],
            _base_env(PORT=str(port)),
            clone,
            tmp_path / "make-run.log",
            port,
        )
    )
    server.start(timeout=240)

    front = http("GET", f"{base}/")
    assert front.status == 200
    assert b"A helpdesk that lives in a mailbox" in front.body
    assert http("GET", f"{base}/healthz").json() == {"status": "ok"}
    log = server.log_text()
    assert "Created admin user 'admin'" in log
    # The admin hint comes again after Django's banner, and no line is printed twice.
    banner = log.index("Starting development server")
    assert f"Admin: {base}/admin/" in log[banner:]
    assert log.count("Watching for file changes") == 1

    sent = _run(
        [str(VENV / "bin" / "python"), "manage.py", "send_test_mail", "--url", base],
        cwd=clone,
        env=_base_env(),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    request_id = int(re.search(r"created request #(\d+)", sent.stdout)[1])

    token = http(
        "POST",
        f"{base}/api/v1/auth/token/",
        data=f"username=admin&password={ADMIN_PASSWORD}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert token.status == 200, token.body
    reply = http(
        "POST",
        f"{base}/api/v1/requests/{request_id}/messages/",
        json_body={"body": "Hello Jane, a technician is on the way."},
        headers={"Authorization": f"Token {token.json()['token']}"},
    )
    assert reply.status == 201, reply.body

    def mail_files() -> list[Path]:
        return sorted((clone / "var" / "mail").glob("*.eml"))

    wait_until(lambda: len(mail_files()) >= 2, timeout=30, message="the reply in var/mail/")
    texts = [path.read_text() for path in mail_files()]
    assert any("We received your request" in text for text in texts)
    [replied] = [text for text in texts if "a technician is on the way" in text]
    assert f"Subject: Re: The printer jams on every page [#{request_id}]" in replied
    assert not list((clone / "var" / "mail").glob("*.log"))


def test_make_test_ignores_a_local_env_file(clone, tmp_path):
    shutil.copyfile(clone / ".env.sample", clone / ".env")
    with (clone / ".env").open("a") as env_file:
        # Values no test could pass with, had it read them.
        env_file.write(
            "DATABASE_URL=postgres://nobody@127.0.0.1:1/nowhere\n"
            "REDIS_URL=redis://127.0.0.1:1/0\n"
            "EMAIL_URL=smtp://127.0.0.1:1\n"
            "SUPPORT_EMAIL=not-the-default@example.org\n"
        )

    result = _run(
        [
            "make",
            "test",
            "PYTEST_ARGS=-q -p no:cacheprovider servicedesk/tests/test_health.py "
            "messages_app/tests/test_notices.py servicedesk/tests/test_settings.py::"
            "test_the_suite_and_every_process_it_starts_ignore_a_developers_env_file",
        ],
        cwd=clone,
        env=_base_env(),
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert " passed" in result.stdout


@pytest.mark.redis
def test_web_worker_and_beat_start_with_the_sample_values_as_compose_passes_them(
    clone, processes, tmp_path
):
    require_binaries("redis-server")
    shutil.copyfile(clone / ".env.sample", clone / ".env")
    port = free_port()
    node = f"firstday-{uuid.uuid4().hex[:8]}@localhost"
    with fresh_database(os.environ.get("DATABASE_URL"), tmp_dir=tmp_path) as database_url:
        env = _base_env(
            PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}",
            **_sample_values(clone),
        )
        # What docker-compose.yml adds for every app container, and a SECRET_KEY, which a
        # deployment must fill in (production settings refuse to start without one).
        env.update(
            DJANGO_SETTINGS_MODULE="servicedesk.settings.production",
            SECRET_KEY=KEY,
            DATABASE_URL=database_url,
            REDIS_URL=os.environ["REDIS_URL"],
            STATIC_ROOT=str(tmp_path / "static"),
            GUNICORN_BIND=f"127.0.0.1:{port}",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        )
        assert env["WEB_CONCURRENCY"] == ""  # the case of the issue: gunicorn's own variable
        # The image collects the static files when it is built.
        subprocess.run(
            [str(VENV / "bin" / "python"), "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=clone,
            env=env,
            check=True,
            timeout=300,
        )
        entrypoint = str(clone / "docker" / "entrypoint.sh")

        def role(name: str, *args: str, port: int | None = None) -> ManagedProcess:
            return processes.add(
                ManagedProcess(
                    name,
                    ["sh", entrypoint, name, *args],
                    env,
                    clone,
                    tmp_path / f"{name}.log",
                    port,
                )
            )

        web = role("web", port=port)
        web.start(timeout=240)
        worker = role("worker", "--hostname", node)
        worker.start()
        beat = role("beat")
        beat.start()

        health = http("GET", f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
        assert health.status == 200, health.body
        ready = http("GET", f"http://127.0.0.1:{port}/readyz", headers={"Host": "localhost"})
        assert ready.status == 200, ready.body

        def pinged() -> bool:
            ping = ["celery", "--app", "servicedesk", "inspect", "ping", "--destination", node]
            result = _run(["sh", entrypoint, *ping, "--timeout", "5"], cwd=clone, env=env)
            return result.returncode == 0 and "pong" in result.stdout

        wait_until(pinged, timeout=120, interval=2, message="the worker to answer a ping")

        def beat_healthy() -> bool:
            check = ["sh", entrypoint, "python", "docker/healthcheck.py", "beat"]
            return _run(check, cwd=clone, env=env).returncode == 0

        wait_until(beat_healthy, timeout=120, interval=1, message="beat's schedule file")
        # Under var/, never in the repository's root.
        assert list((clone / "var").glob("celerybeat-schedule*"))
        assert not list(clone.glob("celerybeat-schedule*"))
        assert web.is_running
        assert worker.is_running
        assert beat.is_running
        processes.stop_all()
