"""The service on loopback for system tests: a fresh database, gunicorn, and with a broker
a private Redis and a Celery worker (and beat), mailing to an SMTP sink."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testing.databases import fresh_database
from testing.http import HTTPResponse, http, obtain_token
from testing.processes import (
    ManagedProcess,
    ProcessGroup,
    celery_beat,
    celery_worker,
    gunicorn,
    manage,
    production_env,
    redis_server,
    service_env,
    start_celery_worker,
    superuser_env,
)
from testing.smtp import SMTPSink

SUPPORT = "support@example.com"


@dataclass
class Service:
    """The running service, its processes, and an admin's API token ('' without an admin)."""

    base_url: str
    env: dict[str, str]
    smtp: SMTPSink
    process_group: ProcessGroup
    web: ManagedProcess
    redis: ManagedProcess | None
    worker: ManagedProcess | None
    token: str

    def api(self, method: str, path: str, body: Any = None) -> HTTPResponse:
        """A call of the API as the admin; a 5xx answer fails the test."""
        response = http(
            method,
            f"{self.base_url}{path}",
            json_body=body,
            headers={"Authorization": f"Token {self.token}"},
        )
        assert response.status < 500, response.body
        return response


@contextlib.contextmanager
def running_service(
    tmp: Path,
    *,
    secret: str,
    env: Mapping[str, str],
    admin: tuple[str, str] | None = None,
    production: bool = False,
    broker: bool = False,
    worker_env: Mapping[str, str] | None = None,
    worker_concurrency: int = 1,
    beat: bool = False,
    web_workers: int = 2,
    setup: Sequence[tuple[str, ...]] = (),
    group: ProcessGroup | None = None,
) -> Iterator[Service]:
    """Start the service on a fresh database beside DATABASE_URL's (or a SQLite file), with
    `env` over the wiring to this test's servers; stop it all afterwards.

    `production` starts from `production_env` (production settings); `broker` adds a private Redis
    and a Celery worker (`worker_env` replaces `env` for it), `beat` a Celery beat;
    `setup` are manage.py commands run after `migrate`.
    """
    group = group or ProcessGroup()
    smtp = SMTPSink().start()
    try:
        redis = None
        if broker:
            redis = group.add(redis_server(log_dir=tmp))
            redis.start()
        with fresh_database(os.environ.get("DATABASE_URL"), tmp_dir=tmp) as database_url:
            wiring = {
                "DATABASE_URL": database_url,
                "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0" if redis else "",
                "EMAIL_URL": smtp.url,
                "EMAIL_TIMEOUT": "5",
                "SUPPORT_EMAIL": SUPPORT,
                "INBOUND_WEBHOOK_SECRET": secret,
                "LANGUAGE_CODE": "en-us",
                **(superuser_env(*admin) if admin else {}),
            }
            # One base for every process (production_env draws a new SECRET_KEY each call).
            base = production_env() if production else service_env()
            base.update(wiring)
            web_env = {**base, **env}
            manage("migrate", "--noinput", env=web_env)
            if admin:
                manage("bootstrap_admin", env=web_env)
            for command in setup:
                manage(*command, env=web_env)
            web = group.add(gunicorn(env=web_env, log_dir=tmp, workers=web_workers))
            web.start()
            worker = None
            if broker:
                task_env = {**base, **(env if worker_env is None else worker_env)}
                worker = group.add(
                    celery_worker(env=task_env, log_dir=tmp, concurrency=worker_concurrency)
                )
                start_celery_worker(worker)
                if beat:
                    group.add(celery_beat(env=task_env, log_dir=tmp)).start()
            base_url = f"http://127.0.0.1:{web.port}"
            token = obtain_token(base_url, *admin) if admin else ""
            yield Service(base_url, web_env, smtp, group, web, redis, worker, token)
            group.stop_all()  # before the database is dropped
    finally:
        group.stop_all()
        smtp.stop()
