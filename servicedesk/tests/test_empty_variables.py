"""Every variable of `.env.sample` works when left empty, in every process that reads it.

`cp .env.sample .env` and docker compose's `env_file` hand each variable the sample leaves
empty to the processes as an empty string; each must then behave as if it were unset:
Django's settings, gunicorn's config, the entrypoint and its prestart step, the health
checks. (The processes themselves start with the sample's values in e2e/test_first_day.py.)
"""

import importlib
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
SAMPLE = (BASE_DIR / ".env.sample").read_text()
VARIABLES = re.findall(r"^([A-Z][A-Z0-9_]*)=", SAMPLE, flags=re.MULTILINE)
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "servicedesk.settings.production",
    "SECRET_KEY": "k3Q9v-p2X8mZr7LwT1yN4bC6dF0gH5jK8qS2uV9xA3eR7tY1iO4pL6zM0nB8cD2f",
    "ALLOWED_HOSTS": "helpdesk.example.com",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "DATABASE_URL": "postgres://servicedesk:secret@db.internal:5432/servicedesk",
}


def _clean_environment(monkeypatch, base: dict[str, str]) -> None:
    for name in [*VARIABLES, "PROMETHEUS_MULTIPROC_DIR"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("READ_DOT_ENV", "false")
    for name, value in base.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the settings package in a project of its own, whose `.env` sets
    SUPPORT_NAME: the real project's `.env` and var/ stay out of it."""
    package = tmp_path / "servicedesk"
    shutil.copytree(BASE_DIR / "servicedesk" / "settings", package / "settings")
    shutil.copyfile(BASE_DIR / "servicedesk" / "logging.py", package / "logging.py")
    (package / "__init__.py").write_text("")
    (tmp_path / ".env").write_text("SUPPORT_NAME=Read from .env\n")
    return tmp_path


def _ours(name: str) -> bool:
    return name == "servicedesk" or name.startswith("servicedesk.")


def _settings(project: Path, base: dict[str, str]) -> dict:
    """The settings module `base` names (local without one), imported afresh from the
    copy in `project`; this process's own modules and environment are put back after."""
    module = base.get("DJANGO_SETTINGS_MODULE", "servicedesk.settings.local")
    saved_environ, saved_path = dict(os.environ), list(sys.path)
    saved_modules = {name: mod for name, mod in sys.modules.items() if _ours(name)}
    for name in saved_modules:
        del sys.modules[name]
    sys.path.insert(0, str(project))
    try:
        values = vars(importlib.import_module(module))
    finally:
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
        # Reading a .env sets os.environ; nothing of it may reach the next case.
        os.environ.clear()
        os.environ.update(saved_environ)
    return {name: value for name, value in values.items() if name.isupper()}


def _gunicorn_config() -> dict:
    values = runpy.run_path(str(BASE_DIR / "docker" / "gunicorn.conf.py"))
    return {
        name: value
        for name, value in values.items()
        if name.islower()
        and not name.startswith("_")
        and not callable(value)
        and name not in ("os", "multiprocessing")
    }


def test_the_sample_names_the_variables_this_module_checks():
    assert {"WEB_CONCURRENCY", "DEBUG", "DATABASE_URL", "REDIS_URL", "READ_DOT_ENV"} <= set(
        VARIABLES
    )


CASES = [
    pytest.param(name, base, id=f"{name}-{label}")
    for label, base in (("development", {}), ("production", PRODUCTION))
    for name in VARIABLES
    if name not in base
]


@pytest.mark.parametrize(("name", "base"), CASES)
def test_django_settings_read_an_empty_variable_as_unset(monkeypatch, project, name, base):
    _clean_environment(monkeypatch, base)
    if name == "READ_DOT_ENV":
        monkeypatch.delenv(name)
    unset = _settings(project, base)

    monkeypatch.setenv(name, "")
    empty = _settings(project, base)

    assert empty == unset


def test_an_empty_read_dot_env_reads_the_env_file_like_an_unset_one(monkeypatch, project):
    _clean_environment(monkeypatch, {})
    monkeypatch.setenv("READ_DOT_ENV", "")

    assert _settings(project, {})["SUPPORT_NAME"] == "Read from .env"
    monkeypatch.setenv("READ_DOT_ENV", "false")
    assert _settings(project, {})["SUPPORT_NAME"] == "Service Desk"


@pytest.mark.parametrize(("name", "base"), CASES)
def test_gunicorn_config_reads_an_empty_variable_as_unset(monkeypatch, name, base):
    _clean_environment(monkeypatch, base)
    unset = _gunicorn_config()

    monkeypatch.setenv(name, "")
    empty = _gunicorn_config()

    assert empty == unset


def test_gunicorn_config_with_every_sample_value_as_compose_passes_them(monkeypatch):
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", SAMPLE, flags=re.MULTILINE))
    _clean_environment(monkeypatch, values)

    config = _gunicorn_config()

    assert config["bind"] == ["0.0.0.0:8000"]
    assert config["workers"] >= 1
    assert config["loglevel"] == "info"
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"


def test_the_entrypoint_drops_empty_variables_before_any_process_reads_them():
    env = {
        "PATH": os.environ["PATH"],
        "WEB_CONCURRENCY": "",
        "PROMETHEUS_MULTIPROC_DIR": "",
        "GUNICORN_THREADS": "1",
        "WITH_SPACE": "Service Desk",
    }

    result = subprocess.run(
        ["sh", str(BASE_DIR / "docker" / "entrypoint.sh"), "env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    lines = set(result.stdout.splitlines())
    assert "GUNICORN_THREADS=1" in lines
    assert "WITH_SPACE=Service Desk" in lines
    assert not any(
        line.startswith(("WEB_CONCURRENCY=", "PROMETHEUS_MULTIPROC_DIR=")) for line in lines
    )


@pytest.mark.parametrize("name", ["DB_WAIT_TIMEOUT", "MIGRATE_ON_START"])
def test_prestart_reads_an_empty_variable_as_its_default(monkeypatch, name):
    prestart = runpy.run_path(str(BASE_DIR / "docker" / "prestart.py"), run_name="prestart")
    monkeypatch.setenv(name, "")

    assert prestart["_env"](name, "the default") == "the default"


def test_prestart_waits_the_default_time_with_an_empty_timeout(monkeypatch):
    prestart = runpy.run_path(str(BASE_DIR / "docker" / "prestart.py"), run_name="prestart")
    monkeypatch.setenv("DB_WAIT_TIMEOUT", "")
    monkeypatch.setattr("time.monotonic", lambda: 1000.0)

    assert prestart["_deadline"]() == 1060.0


@pytest.mark.parametrize("name", ["GUNICORN_BIND", "CELERY_BEAT_SCHEDULE_FILE", "ALLOWED_HOSTS"])
def test_health_checks_read_an_empty_variable_as_unset(monkeypatch, name):
    healthcheck = runpy.run_path(str(BASE_DIR / "docker" / "healthcheck.py"), run_name="check")
    monkeypatch.setenv(name, "")

    assert healthcheck["_env"](name, "the default") == "the default"
    assert healthcheck["_host_header"]() == "localhost"
