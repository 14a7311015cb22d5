"""A server started with DEBUG off before `collectstatic` refuses to start and says why."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from servicedesk.startup import require_collected_static_files

ROOT = Path(__file__).resolve().parents[2]
KEY = "k3Q9v-p2X8mZr7LwT1yN4bC6dF0gH5jK8qS2uV9xA3eR7tY1iO4pL6zM0nB8cD2f"
MANIFEST = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"


def _manifest_storage(settings, root: Path) -> None:
    settings.DEBUG = False
    settings.STATIC_ROOT = str(root)
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST}}


def test_without_collected_files_the_check_names_the_command(settings, tmp_path):
    _manifest_storage(settings, tmp_path)

    with pytest.raises(ImproperlyConfigured, match="collectstatic --noinput"):
        require_collected_static_files()


def test_with_collected_files_the_check_passes(settings, tmp_path):
    _manifest_storage(settings, tmp_path)
    (tmp_path / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')

    require_collected_static_files()


def test_in_development_files_are_served_without_collecting(settings, tmp_path):
    settings.DEBUG = True
    settings.STATIC_ROOT = str(tmp_path)

    require_collected_static_files()


def test_gunicorn_with_debug_off_before_collectstatic_exits_with_the_reason(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")},
        "DJANGO_SETTINGS_MODULE": "servicedesk.settings.production",
        "READ_DOT_ENV": "false",
        "SECRET_KEY": KEY,
        "ALLOWED_HOSTS": "localhost",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }

    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config",
            str(ROOT / "docker" / "gunicorn.conf.py"),
            "servicedesk.wsgi:application",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "static files are not collected" in result.stderr
    assert "collectstatic --noinput" in result.stderr
