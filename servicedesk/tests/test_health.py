"""/healthz and /readyz: liveness, and readiness of the database and the broker; SMTP as a
warning only."""

import socket

import pytest
from django.db import OperationalError

from servicedesk import health

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_ok_while_the_process_runs(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_without_a_broker_checks_the_database_only(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_answers_503_naming_the_database_when_it_is_down(client, settings, monkeypatch):
    settings.REDIS_URL = ""

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(health.connection, "cursor", refuse)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "failed": ["database"],
        "checks": {"database": "unavailable"},
    }


def test_readyz_answers_503_naming_the_broker_when_it_is_down(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"] == {"database": "ok", "broker": "unavailable"}


@pytest.mark.redis
def test_readyz_checks_a_configured_broker(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.fixture
def smtp_settings(settings):
    settings.REDIS_URL = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_USE_SSL = False
    health._smtp_probe.clear()
    yield settings
    health._smtp_probe.clear()


def test_readyz_warns_but_stays_200_while_the_mail_server_is_down(client, smtp_settings):
    smtp_settings.EMAIL_PORT = _closed_port()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "smtp": "unavailable"},
        "warnings": ["smtp"],
    }
    assert "servicedesk_smtp_up 0.0" in client.get("/metrics").content.decode()


def test_readyz_reports_a_mail_server_that_answers(client, smtp_settings):
    from testing.smtp import SMTPSink

    with SMTPSink() as sink:
        smtp_settings.EMAIL_PORT = sink.port

        response = client.get("/readyz")
        metrics = client.get("/metrics").content.decode()

    assert response.json() == {"status": "ok", "checks": {"database": "ok", "smtp": "ok"}}
    assert "servicedesk_smtp_up 1.0" in metrics


def test_probes_answer_only_get(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
