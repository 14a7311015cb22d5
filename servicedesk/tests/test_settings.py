"""Settings read the environment: embedded defaults with nothing set, production with it.

Each case imports the settings in a fresh interpreter so that the environment is exactly
what the case sets (a developer's .env is ignored through READ_DOT_ENV=false).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION_KEY = "k3Q9v-p2X8mZr7LwT1yN4bC6dF0gH5jK8qS2uV9xA3eR7tY1iO4pL6zM0nB8cD2f"

DUMP = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ENGINE": db["ENGINE"], "NAME": str(db["NAME"]), "OPTIONS": db.get("OPTIONS", {}),
    "EAGER": settings.CELERY_TASK_ALWAYS_EAGER, "BROKER": settings.CELERY_BROKER_URL,
    "EMAIL_BACKEND": settings.EMAIL_BACKEND, "EMAIL_HOST": getattr(settings, "EMAIL_HOST", None),
    "EMAIL_PORT": getattr(settings, "EMAIL_PORT", None),
    "EMAIL_USE_TLS": getattr(settings, "EMAIL_USE_TLS", None),
    "EMAIL_FILE_PATH": str(getattr(settings, "EMAIL_FILE_PATH", "")),
    "SUPPORT_EMAIL": settings.SUPPORT_EMAIL, "DEFAULT_FROM_EMAIL": settings.DEFAULT_FROM_EMAIL,
    "WEBHOOK_SECRET": settings.INBOUND_WEBHOOK_SECRET,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS, "CSRF_TRUSTED_ORIGINS": settings.CSRF_TRUSTED_ORIGINS,
    "LANGUAGE_CODE": settings.LANGUAGE_CODE, "TIME_ZONE": settings.TIME_ZONE,
    "SECURE_SSL_REDIRECT": getattr(settings, "SECURE_SSL_REDIRECT", False),
}))
"""

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": PRODUCTION_KEY,
    "ALLOWED_HOSTS": "helpdesk.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://helpdesk.example.com",
    "DATABASE_URL": "postgres://servicedesk:secret@db.internal:5432/servicedesk",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
    "SUPPORT_EMAIL": "Help@Example.com",
    "INBOUND_WEBHOOK_SECRET": "7c0a1e5d9b3f4a6e8d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a",
    "LANGUAGE_CODE": "ru",
    "TIME_ZONE": "Europe/Moscow",
}


def _env(**overrides: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(DJANGO_SETTINGS_MODULE="servicedesk.settings", READ_DOT_ENV="false", **overrides)
    return env


def _run(code: str, **overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=BASE_DIR,
        env=_env(**overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings(**overrides: str) -> dict:
    result = _run(DUMP, **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_with_nothing_set_the_service_runs_on_the_embedded_default():
    settings = _settings()

    assert settings["DEBUG"] is True
    assert settings["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["NAME"] == str(BASE_DIR / "var" / "db.sqlite3")
    assert settings["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in settings["OPTIONS"]["init_command"]
    assert "busy_timeout" in settings["OPTIONS"]["init_command"]
    assert settings["EAGER"] is True
    # One .eml file per mail (Django's file backend appends them all to .log files).
    assert settings["EMAIL_BACKEND"] == "messages_app.outbound.mail_backends.EmlFileBackend"
    assert settings["EMAIL_FILE_PATH"] == str(BASE_DIR / "var" / "mail")
    assert settings["WEBHOOK_SECRET"] == ""
    assert settings["SECURE_SSL_REDIRECT"] is False


def test_production_variables_switch_every_part():
    settings = _settings(**PRODUCTION_ENV)

    assert settings["DEBUG"] is False
    assert settings["ENGINE"] == "django.db.backends.postgresql"
    assert settings["NAME"] == "servicedesk"
    assert settings["EAGER"] is False
    assert settings["BROKER"] == "redis://redis.internal:6379/0"
    assert settings["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (settings["EMAIL_HOST"], settings["EMAIL_PORT"]) == ("smtp.example.com", 587)
    assert settings["EMAIL_USE_TLS"] is True
    assert settings["SUPPORT_EMAIL"] == "help@example.com"
    assert settings["DEFAULT_FROM_EMAIL"] == "Service Desk <help@example.com>"
    assert settings["WEBHOOK_SECRET"] == PRODUCTION_ENV["INBOUND_WEBHOOK_SECRET"]
    assert settings["ALLOWED_HOSTS"] == ["helpdesk.example.com"]
    assert settings["CSRF_TRUSTED_ORIGINS"] == ["https://helpdesk.example.com"]
    assert (settings["LANGUAGE_CODE"], settings["TIME_ZONE"]) == ("ru", "Europe/Moscow")
    assert settings["SECURE_SSL_REDIRECT"] is True


@pytest.mark.parametrize(
    "secret_key",
    ["", "too-short", "django-insecure-" + "x" * 60, "a" * 64],
    ids=["missing", "short", "insecure-prefix", "repetitive"],
)
def test_production_refuses_to_start_without_a_real_secret_key(secret_key):
    result = _run(DUMP, **{**PRODUCTION_ENV, "SECRET_KEY": secret_key})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_the_documented_production_variables():
    result = _check_deploy(**PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("secret", ["", "x", "a" * 31])
def test_check_deploy_refuses_a_short_webhook_secret(secret):
    result = _check_deploy(**{**PRODUCTION_ENV, "INBOUND_WEBHOOK_SECRET": secret})

    assert result.returncode != 0
    assert "servicedesk.E001" in result.stderr
    assert f"INBOUND_WEBHOOK_SECRET has {len(secret)} characters" in result.stderr


def test_every_setting_read_from_the_environment_is_documented_in_env_sample():
    source = (BASE_DIR / "servicedesk" / "settings.py").read_text()
    sample = (BASE_DIR / ".env.sample").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    documented = set(re.findall(r"^([A-Z_]+)=", sample, flags=re.MULTILINE))
    assert read - documented == set()


def test_an_unedited_copy_of_env_sample_keeps_the_embedded_defaults():
    sample = (BASE_DIR / ".env.sample").read_text()
    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", sample, flags=re.MULTILINE))
    values.pop("READ_DOT_ENV")

    settings = _settings(**values)

    assert settings["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["NAME"] == str(BASE_DIR / "var" / "db.sqlite3")
    assert settings["EAGER"] is True
    assert settings["EMAIL_FILE_PATH"] == str(BASE_DIR / "var" / "mail")
    assert settings["SUPPORT_EMAIL"] == "support@example.com"


def test_the_suite_and_every_process_it_starts_ignore_a_developers_env_file():
    """A local `.env` (its database, broker, admin) must change nothing in tests: the suite
    runs on settings_for_tests, which turns READ_DOT_ENV off for its children too."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['READ_DOT_ENV'])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "servicedesk.settings_for_tests"
    assert os.environ["READ_DOT_ENV"] == "false"
    assert child.stdout.strip() == "false"
