"""Container health checks, one per role; exit 0 when healthy.

    python docker/healthcheck.py web      gunicorn answers /healthz
    python docker/healthcheck.py worker   this container's Celery worker answers a ping
    python docker/healthcheck.py beat     beat saved its schedule recently

Only the standard library for `web`, so the check stays cheap; the others load Celery.
"""

import glob
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def _env(name: str, default: str) -> str:
    """The variable, or `default` when it is unset or empty (as in a copied .env.sample)."""
    return os.environ.get(name, "").strip() or default


def _host_header() -> str:
    # Django answers 400 to a Host outside ALLOWED_HOSTS, so ask as a real client would.
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def check_web() -> None:
    port = _env("GUNICORN_BIND", "0.0.0.0:8000").rpartition(":")[2]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": _host_header()}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        if response.status != 200:
            sys.exit(f"/healthz answered {response.status}")


def check_worker() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.production")
    from servicedesk.celery import app

    node = f"celery@{socket.gethostname()}"
    if not app.control.ping(destination=[node], timeout=5):
        sys.exit(f"{node} did not answer a ping")


def check_beat() -> None:
    # The settings' default when unset: var/ in the project.
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    default = os.path.join(project, "var", "celerybeat-schedule")
    schedule = _env("CELERY_BEAT_SCHEDULE_FILE", default)
    files = glob.glob(glob.escape(schedule) + "*")
    if not files:
        sys.exit(f"beat has not written {schedule} yet")
    # Beat saves its schedule at least every few minutes while it ticks.
    age = time.time() - max(os.path.getmtime(path) for path in files)
    limit = float(_env("BEAT_HEALTH_MAX_AGE", "600"))
    if age > limit:
        sys.exit(f"beat last saved its schedule {age:.0f}s ago")


CHECKS = {"web": check_web, "worker": check_worker, "beat": check_beat}

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    role = sys.argv[1] if len(sys.argv) > 1 else "web"
    try:
        CHECKS[role]()
    except (OSError, urllib.error.URLError) as exc:
        sys.exit(f"{role} is unhealthy: {exc}")
