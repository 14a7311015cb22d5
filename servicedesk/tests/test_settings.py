"""Settings read the environment: the local module runs the embedded default with nothing
set, the production module needs what a deployment must choose and hardens the rest.

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

from testing.processes import run_python

BASE_DIR = Path(__file__).resolve().parents[2]
LOCAL = "servicedesk.settings.local"
PRODUCTION = "servicedesk.settings.production"
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
    "HSTS": settings.SECURE_HSTS_SECONDS, "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "STATICFILES": settings.STORAGES["staticfiles"]["BACKEND"],
    "WHITENOISE": "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE,
    "LOG_FORMAT": settings.LOG_FORMAT,
    "CACHE": settings.CACHES["default"]["BACKEND"],
    "CACHE_OPTIONS": settings.CACHES["default"].get("OPTIONS", {}),
}))
"""

PRODUCTION_ENV = {
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


def _env(module: str | None, **overrides: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    if module is not None:
        env["DJANGO_SETTINGS_MODULE"] = module
    env.update(READ_DOT_ENV="false", **overrides)
    return env


def _run(code: str, module: str | None = LOCAL, **overrides: str) -> subprocess.CompletedProcess:
    return run_python("-c", code, env=_env(module, **overrides), timeout=60)


def _settings(module: str = LOCAL, **overrides: str) -> dict:
    result = _run("import django; django.setup()\n" + DUMP, module, **overrides)
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
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert settings["CACHE"] == "django.core.cache.backends.locmem.LocMemCache"
    assert settings["STATICFILES"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert not settings["WHITENOISE"]
    assert settings["LOG_FORMAT"] == "text"


def test_the_local_settings_take_the_servers_they_are_given():
    settings = _settings(
        DATABASE_URL=PRODUCTION_ENV["DATABASE_URL"], REDIS_URL=PRODUCTION_ENV["REDIS_URL"]
    )

    assert settings["DEBUG"] is True
    assert settings["ENGINE"] == "django.db.backends.postgresql"
    assert settings["EAGER"] is False
    assert settings["CACHE"] == "django_redis.cache.RedisCache"


def test_production_variables_switch_every_part():
    settings = _settings(PRODUCTION, **PRODUCTION_ENV)

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
    assert settings["HSTS"] == 31536000
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["STATICFILES"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert settings["WHITENOISE"]
    assert settings["LOG_FORMAT"] == "json"
    # One pool per server; an outage is a cache miss, logged.
    assert settings["CACHE"] == "django_redis.cache.RedisCache"
    assert settings["CACHE_OPTIONS"]["IGNORE_EXCEPTIONS"] is True


def test_production_runs_without_redis_with_tasks_in_process():
    settings = _settings(PRODUCTION, **{**PRODUCTION_ENV, "REDIS_URL": ""})

    assert settings["EAGER"] is True
    assert settings["CACHE"] == "django.core.cache.backends.locmem.LocMemCache"


@pytest.mark.parametrize(
    "secret_key",
    ["", "too-short", "django-insecure-" + "x" * 60, "a" * 64],
    ids=["missing", "short", "insecure-prefix", "repetitive"],
)
def test_production_refuses_to_start_without_a_real_secret_key(secret_key):
    result = _run(DUMP, PRODUCTION, **{**PRODUCTION_ENV, "SECRET_KEY": secret_key})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("name", ["ALLOWED_HOSTS", "DATABASE_URL"])
@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_production_refuses_to_start_without_a_required_variable(name, value):
    env = {key: val for key, val in PRODUCTION_ENV.items() if key != name}
    if value is not None:
        env[name] = value

    result = _run("import django; django.setup()", PRODUCTION, **env)

    assert result.returncode != 0
    assert f"{name} must be set with production settings" in result.stderr


def test_production_refuses_debug_on():
    result = _run("import django; django.setup()", PRODUCTION, **PRODUCTION_ENV, DEBUG="true")

    assert result.returncode != 0
    assert "DEBUG=true with production settings" in result.stderr


def test_production_accepts_debug_off_as_older_deployments_set_it():
    assert _settings(PRODUCTION, **PRODUCTION_ENV, DEBUG="false")["DEBUG"] is False


@pytest.mark.parametrize(
    ("entry", "module"),
    [
        ("import servicedesk.wsgi", PRODUCTION),
        ("import servicedesk.asgi", PRODUCTION),
        ("from servicedesk.celery import app", LOCAL),
    ],
)
def test_each_entry_point_chooses_its_settings_module_when_none_is_set(entry, module, tmp_path):
    # A collected manifest, so that wsgi.py serves under production settings.
    (tmp_path / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')
    code = f"{entry}\nimport os\nprint(os.environ['DJANGO_SETTINGS_MODULE'])"

    result = _run(code, None, **PRODUCTION_ENV, STATIC_ROOT=str(tmp_path))

    assert result.stdout.strip() == module, result.stderr


def test_manage_py_runs_the_local_settings_when_none_is_set():
    result = run_python(
        "manage.py",
        "shell",
        "-c",
        "import os; print(os.environ['DJANGO_SETTINGS_MODULE'])",
        env=_env(None),
        timeout=60,
    )

    assert result.stdout.strip().splitlines()[-1] == LOCAL, result.stderr


def test_the_old_module_name_says_what_to_use_instead():
    result = _run("import django; django.setup()", "servicedesk.settings")

    assert result.returncode != 0
    assert "use servicedesk.settings.local" in result.stderr


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    return run_python(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=_env(PRODUCTION, **env),
        timeout=120,
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
    source = "".join(
        path.read_text() for path in (BASE_DIR / "servicedesk" / "settings").glob("*.py")
    )
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
    runs on the test settings, which turn READ_DOT_ENV off for its children too."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['READ_DOT_ENV'])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "servicedesk.settings.test"
    assert os.environ["READ_DOT_ENV"] == "false"
    assert child.stdout.strip() == "false"
