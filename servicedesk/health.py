"""Liveness and readiness probes.

Readiness asks what a request needs: the database, and the Celery broker when one is
configured. The SMTP server is asked too, but only as a warning (still 200): mail waits
in the outbox while it is down, and taking the web replicas out of service would not
bring it back.
"""

import logging
import smtplib
import time
from contextlib import suppress

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# A probe must answer well within the orchestrator's timeout even when Redis hangs.
BROKER_TIMEOUT_SECONDS = 2


def _first_line(exc: Exception) -> str:
    # Probes run every few seconds: one line per failure, not a traceback.
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def database_ready() -> bool:
    """True when the default database runs a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        # Django drops the broken connection when the request ends; the next probe reconnects.
        logger.warning("Readiness: the database does not answer: %s", _first_line(exc))
        return False
    return True


def broker_ready() -> bool:
    """True when the Redis broker answers PING."""
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        return bool(client.ping())
    except redis.RedisError as exc:
        logger.warning("Readiness: the broker does not answer: %s", _first_line(exc))
        return False
    finally:
        client.close()


_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# One probe per process at most this often: readiness and metrics are polled every few
# seconds by every replica, and the mail server need not greet each of them.
SMTP_PROBE_CACHE_SECONDS = 10
_smtp_probe: dict[str, float | bool] = {}


def smtp_configured() -> bool:
    return settings.EMAIL_BACKEND == _SMTP_BACKEND


def smtp_ready() -> bool:
    """True when the configured SMTP server greets us (220); cached a few seconds."""
    now = time.monotonic()
    if _smtp_probe and now - _smtp_probe["at"] < SMTP_PROBE_CACHE_SECONDS:
        return bool(_smtp_probe["ok"])
    smtp_class = smtplib.SMTP_SSL if settings.EMAIL_USE_SSL else smtplib.SMTP
    ok = False
    try:
        client = smtp_class(timeout=BROKER_TIMEOUT_SECONDS)
        try:
            code, _ = client.connect(settings.EMAIL_HOST, settings.EMAIL_PORT)
            ok = code == 220
        finally:
            with suppress(Exception):
                client.close()
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Readiness: the SMTP server does not answer: %s", _first_line(exc))
    _smtp_probe.update(at=now, ok=ok)
    return ok


@require_GET
def healthz(request):
    """200 while the process runs."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """200 when the database (and the broker, when configured) answers; 503 naming what failed.
    An SMTP server that does not answer is a warning only."""
    checks = {"database": database_ready}
    if settings.REDIS_URL:
        checks["broker"] = broker_ready
    results = {name: "ok" if check() else "unavailable" for name, check in checks.items()}
    failed = [name for name, result in results.items() if result != "ok"]
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": results}, status=503
        )
    body = {"status": "ok", "checks": results}
    if smtp_configured():
        results["smtp"] = "ok" if smtp_ready() else "unavailable"
        if results["smtp"] != "ok":
            # Not a failure: mail waits in the outbox and goes out when SMTP is back.
            body["warnings"] = ["smtp"]
    return JsonResponse(body)
