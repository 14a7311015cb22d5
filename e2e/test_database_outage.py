"""PostgreSQL connections terminated under load (`pg_terminate_backend`, what a failover or
an administrator does): gunicorn answers 503 in the error shape or succeeds, never 500,
and no mail the webhook reported as stored is lost."""

import os
import threading
import time

import psycopg2
import pytest

from e2e.support import (
    fresh_database,
    gunicorn,
    http,
    manage,
    post_webhook,
    service_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SECRET = "e2e-webhook-secret-for-the-database-outage"
ADMIN = ("e2e-admin", "e2e-password-not-secret")
CLIENTS = 4
ROUNDS = 25


def test_terminated_connections_under_load_answer_503_never_500_and_lose_nothing(
    tmp_path, processes
):
    group = processes
    with fresh_database(os.environ["DATABASE_URL"], tmp_dir=tmp_path) as database_url:
        try:
            env = service_env(
                DJANGO_SETTINGS_MODULE="servicedesk.settings.production",
                SECRET_KEY="e2e-" + "k" * 60 + "-not-secret-at-all",
                ALLOWED_HOSTS="127.0.0.1",
                SECURE_SSL_REDIRECT="false",
                SESSION_COOKIE_SECURE="false",
                CSRF_COOKIE_SECURE="false",
                DATABASE_URL=database_url,
                REDIS_URL="",
                EMAIL_URL="memorymail://",
                INBOUND_WEBHOOK_SECRET=SECRET,
                DJANGO_SUPERUSER_USERNAME=ADMIN[0],
                DJANGO_SUPERUSER_PASSWORD=ADMIN[1],
                DJANGO_SUPERUSER_EMAIL="admin@example.com",
                LOG_LEVEL="INFO",
                STATIC_ROOT=str(tmp_path / "static"),
            )
            manage("collectstatic", "--noinput", env=env)
            manage("migrate", "--noinput", env=env)
            manage("bootstrap_admin", env=env)
            web = group.add(gunicorn(env=env, log_dir=tmp_path, workers=2))
            web.start()
            base_url = f"http://127.0.0.1:{web.port}"
            token = http(
                "POST",
                f"{base_url}/api/v1/auth/token/",
                json_body={"username": ADMIN[0], "password": ADMIN[1]},
            ).json()["token"]
            auth = {"Authorization": f"Token {token}"}

            statuses: list[int] = []
            unstored: list[dict] = []  # items a 503 refused: the forwarder sends them again
            stored: dict[str, int] = {}  # item id -> message id the webhook reported
            lock = threading.Lock()
            stop = threading.Event()
            kills = []

            def killer():
                connection = psycopg2.connect(database_url)
                connection.autocommit = True
                with connection.cursor() as cursor:
                    while not stop.is_set():
                        cursor.execute(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                        kills.append(cursor.fetchone()[0])
                        time.sleep(0.05)
                connection.close()

            def client(number: int):
                for round_ in range(ROUNDS):
                    item = {
                        "id": f"gmail-{number}-{round_}",
                        "user_email": f"load{number}.{round_ % 3}@example.com",
                        "title": f"Load {number} {round_}",
                    }
                    answers = [
                        post_webhook(base_url, [item], secret=SECRET),
                        http("GET", f"{base_url}/api/v1/requests/?page_size=20", headers=auth),
                        http("GET", f"{base_url}/api/v1/operators/me/", headers=auth),
                    ]
                    with lock:
                        statuses.extend(answer.status for answer in answers)
                        webhook = answers[0]
                        if webhook.status == 200:
                            (result,) = webhook.json()["results"]
                            stored[item["id"]] = result["message_id"]
                        else:
                            unstored.append(item)
                    for answer in answers:
                        if answer.status == 503:
                            assert answer.json()["code"] in (
                                "database_unavailable",
                                "ingest_unavailable",
                            ), answer.body

            threads = [threading.Thread(target=killer)] + [
                threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads[1:]:
                thread.join(timeout=300)
            stop.set()
            threads[0].join(timeout=10)

            assert sum(kills) > 0, "no connection was terminated"
            assert all(status in (200, 503) for status in statuses), sorted(set(statuses))
            interrupted = statuses.count(503) + web.log_text().count("retrying once")
            assert interrupted > 0, "the load never met a terminated connection"

            # The forwarder sends refused items again; then every item is stored once.
            for item in unstored:
                response = post_webhook(base_url, [item], secret=SECRET)
                assert response.status == 200, response.body
                (result,) = response.json()["results"]
                stored[item["id"]] = result["message_id"]
            check = psycopg2.connect(database_url)
            with check.cursor() as cursor:
                cursor.execute(
                    "SELECT external_id, id FROM messages_app_message WHERE direction = 'inbound'"
                )
                in_database = dict(cursor.fetchall())
            check.close()
            assert in_database == stored
            assert len(stored) == CLIENTS * ROUNDS
        finally:
            group.stop_all()
